import { z } from 'zod';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { GtrError } from './gtr-error.js';

/** The two RFC 9493 subject identifier formats Okta sends (draft-parecki-oauth-global-token-revocation §2.1). */
const SubId = z.discriminatedUnion('format', [
  z.object({ format: z.literal('iss_sub'), iss: z.string().min(1).max(2048), sub: z.string().min(1).max(1024) }),
  z.object({ format: z.literal('email'), email: z.string().min(3).max(320).includes('@') }),
]);
const Body = z.object({ sub_id: SubId });

export type SubjectId = z.infer<typeof SubId>;

/** The body's `sub_id`, or 400 (§2.3: malformed request or an unsupported format). */
export function parseSubId(body: string): SubjectId {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new GtrError(400, 'body is not JSON');
  }
  const parsed = Body.safeParse(json);
  if (!parsed.success) throw new GtrError(400, `malformed sub_id (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data.sub_id;
}

/**
 * The local users `sub_id` names in this tenant. `iss_sub`: the identity linked at one of the tenant's enabled
 * connections with that issuer (SAML NameID or OIDC `sub`, as SSO stored it); an issuer that is none of the tenant's
 * connections is refused with 403, a subject nobody holds with 404. `email`: every user whose primary e-mail matches
 * (stored lower-cased), 404 when none.
 */
export async function findSubIdUsers(t: TenantCtx, subId: SubjectId): Promise<string[]> {
  if (subId.format === 'email') {
    const users = await t.db.user.findMany({ where: { email: subId.email.toLowerCase() }, select: { id: true } });
    if (!users.length) throw new GtrError(404, 'no user with this email');
    return users.map((u) => u.id);
  }
  const conns = await t.db.idpConnection.findMany({ where: { issuer: subId.iss, enabled: true }, select: { id: true } });
  if (!conns.length) throw new GtrError(403, 'sub_id.iss is not an IdP of this tenant');
  const ids = await t.db.userIdentity.findMany({ where: { connectionId: { in: conns.map((c) => c.id) }, subject: subId.sub }, select: { userId: true } });
  if (!ids.length) throw new GtrError(404, 'no user with this subject');
  return [...new Set(ids.map((i) => i.userId))];
}
