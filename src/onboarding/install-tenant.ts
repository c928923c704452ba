import type { Prisma } from '../generated/prisma/client.js';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import { reservedSlugs } from '../tenants/slug.js';
import { tenantContext, type TenantCtx } from '../tenants/tenant-context.js';

export type SignupPolicy = 'open' | 'invite-only' | 'approval';
export type BindingKind = 'entra' | 'google';

/** Why a new tenant cannot be created under the deployment's signup policy (`invite-only`), or null. */
export class SignupClosedError extends Error {
  override name = 'SignupClosedError';
}

/** A slug from a display name: lower-case words joined by dashes, 3–40 characters, never a reserved word. */
export function slugFromName(name: string): string {
  let slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  if (slug.length < 3 || reservedSlugs.has(slug)) slug = `org-${slug}`.replace(/-+$/, '');
  return slug.length >= 3 ? slug : 'org';
}

/** The tenant bound to an external directory (Entra tid, Google customer id), whatever its status. */
export async function findBinding(s: Services, kind: BindingKind, externalId: string) {
  // Across tenants on purpose: the install flow is how the tenant is found. Only the unique (kind, externalId) key.
  const row = await s.db.tenantBinding.findUnique({ where: { kind_externalId: { kind, externalId } }, include: { tenant: true } });
  return row ? { binding: row, t: tenantContext(s.db, row.tenant), status: row.tenant.status } : null;
}

export interface NewInstall {
  name: string;
  /** The directory the install came from; none for a self-service sign-up. */
  binding?: { kind: BindingKind; externalId: string; domain?: string };
  source: 'entra' | 'google' | 'signup';
  /** Who asked (sign-up form e-mail), shown to the operator in `signup list`. */
  contact?: string;
}

/**
 * Creates a tenant for a catalog install (or a self-service sign-up) under the signup policy: `open` → active;
 * `approval` → created disabled with `signup.status = pending` (its URLs answer 404 until `signup approve`);
 * `invite-only` → refused (operators create tenants and hand out setup links). The binding is unique per directory:
 * two racing installs of one directory end with one tenant, the loser's tenant is removed and the winner returned.
 */
export async function createInstalledTenant(s: Services, input: NewInstall): Promise<{ t: TenantCtx; created: boolean; pending: boolean }> {
  const policy = s.config.signupPolicy;
  if (policy === 'invite-only') throw new SignupClosedError('sign-up is by invitation');
  const pending = policy === 'approval';
  const signup = { status: pending ? 'pending' : 'approved', source: input.source, requestedAt: s.clock.now().toISOString(), ...(input.contact && { contact: input.contact }) };
  const settings = { signup } as Prisma.InputJsonObject;
  const base = slugFromName(input.name);
  let row: { id: string; slug: string; name: string; settings: unknown } | undefined;
  for (let i = 0; i < 20 && !row; i++) {
    const slug = i === 0 ? base : `${base.slice(0, 34)}-${Math.random().toString(36).slice(2, 6)}`;
    try {
      row = await s.db.tenant.create({ data: { id: newId('ten'), slug, name: input.name.slice(0, 200), status: pending ? 'disabled' : 'active', settings } });
    } catch (err) {
      if ((err as { code?: string }).code !== 'P2002') throw err;
    }
  }
  if (!row) throw new Error('no free slug for the new tenant');
  const t = tenantContext(s.db, row);
  const b = input.binding;
  if (b) {
    try {
      await t.db.tenantBinding.create({ data: { id: newId('tbd'), tenantId: t.id, kind: b.kind, externalId: b.externalId, domain: b.domain ?? null } });
    } catch (err) {
      await s.db.tenant.delete({ where: { id: t.id } });
      if ((err as { code?: string }).code !== 'P2002') throw err;
      const winner = await findBinding(s, b.kind, b.externalId);
      if (!winner) throw err;
      return { t: winner.t, created: false, pending: winner.status !== 'active' };
    }
  }
  await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  await s.audit.record(null, { actor: { kind: 'system' }, action: 'tenant.create', target: { kind: 'tenant', id: t.id }, outcome: 'success', detail: { slug: t.slug, source: input.source, pending } });
  return { t, created: true, pending };
}
