import { conflict } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The first administrator a setup link makes: a new local account for the e-mail the link's holder gives. An e-mail
 * that already has an account is refused: a setup link makes a new admin, it never signs its holder in as somebody
 * who exists (SCIM may have provisioned the whole company by then).
 */
export async function createSetupAdmin(t: TenantCtx, input: { email: string; displayName?: string }) {
  const email = input.email.trim().toLowerCase();
  const taken = await t.db.user.findFirst({ where: { OR: [{ email }, { userNameKey: email }] }, select: { id: true } });
  if (taken) throw conflict('This e-mail already has an account in this organisation: sign in with single sign-on instead.');
  return t.db.user.create({
    data: { id: newId('usr'), tenantId: t.id, userName: email, userNameKey: email, email, displayName: input.displayName?.trim().slice(0, 200) || null, source: 'manual', isAdmin: true },
    select: { id: true, email: true },
  });
}
