import { newId } from '../lib/ids.js';
import { hashToken, newSecretToken } from '../lib/secrets.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { findActiveTenantById } from '../sso/find-tenant-by-id.js';

export const SETUP_LINK_TTL_MS = 72 * 3_600_000;
const MAX_TTL_MS = 14 * 24 * 3_600_000;

/** The path a setup link opens; the token is its last segment. */
export const setupPath = (token: string) => `/setup/${token}`;
export const SETUP_TOKEN = /^sl_[A-Za-z0-9_-]{43}$/;

/**
 * A single-use, expiring link that lets the customer's IdP admin finish setting up a tenant (SSO, SCIM) in the admin
 * console without an account with us first (issue 16, Okta OIN). Only the token's SHA-256 is stored; the link is shown once.
 */
export async function createSetupLink(s: Services, t: TenantCtx, createdBy: 'operator' | 'signup', ttlMs = SETUP_LINK_TTL_MS) {
  if (!(ttlMs > 0 && ttlMs <= MAX_TTL_MS)) throw new RangeError('setup links live between 1 minute and 14 days');
  const token = newSecretToken('sl');
  const expiresAt = new Date(s.clock.now().getTime() + ttlMs);
  const id = newId('stl');
  await t.db.setupLink.create({ data: { id, tenantId: t.id, tokenHash: hashToken(token), createdBy, expiresAt } });
  return { id, tenant: t.slug, url: `${s.config.publicUrl}${setupPath(token)}`, expiresAt: expiresAt.toISOString() };
}

/** The link's tenant while it is unused, unexpired and the tenant active; null otherwise (never says which). */
export async function peekSetupLink(s: Services, token: string): Promise<{ t: TenantCtx; expiresAt: Date } | null> {
  if (!SETUP_TOKEN.test(token)) return null;
  // Across tenants on purpose: the token names its tenant; the lookup is by its unique hash only.
  const row = await s.db.setupLink.findUnique({ where: { tokenHash: hashToken(token) } });
  if (!row || row.usedAt || row.expiresAt <= s.clock.now()) return null;
  const t = await findActiveTenantById(s.db, row.tenantId);
  return t ? { t, expiresAt: row.expiresAt } : null;
}

/**
 * Spends the link: one conditional update (unused and unexpired at this instant), so two concurrent submissions of
 * one link make exactly one admin, on any node. Returns the tenant, or null when the link is not usable.
 */
export async function consumeSetupLink(s: Services, token: string): Promise<{ t: TenantCtx; linkId: string } | null> {
  const peek = await peekSetupLink(s, token);
  if (!peek) return null;
  const now = s.clock.now();
  const row = await peek.t.db.setupLink.findFirst({ where: { tokenHash: hashToken(token) }, select: { id: true } });
  const { count } = await peek.t.db.setupLink.updateMany({ where: { id: row!.id, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
  return count === 1 ? { t: peek.t, linkId: row!.id } : null;
}

/** The admin a link made, recorded on the link. */
export async function recordSetupLinkUser(t: TenantCtx, linkId: string, userId: string): Promise<void> {
  await t.db.setupLink.updateMany({ where: { id: linkId }, data: { usedBy: userId } });
}
