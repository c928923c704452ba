import type { Clock } from '../lib/clock.js';
import { notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { hashToken, newSecretToken, safeEqual } from '../lib/secrets.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export const scimBaseUrl = (publicUrl: string, t: TenantCtx) => `${publicUrl}/t/${t.slug}/scim/v2`;

/**
 * Creates a SCIM bearer token. The token is returned once; only its SHA-256 is stored. With `connectionId` (the IdP
 * connection of the same Okta/Entra app), users the token creates may link only through that connection (issue 8 §4).
 */
export async function createScimToken(t: TenantCtx, publicUrl: string, label?: string, connectionId?: string) {
  if (connectionId && !(await t.db.idpConnection.findFirst({ where: { id: connectionId }, select: { id: true } }))) {
    throw notFound(`No IdP connection ${connectionId} in tenant ${t.slug}`);
  }
  const token = newSecretToken('scim');
  const id = newId('stk');
  await t.db.scimToken.create({ data: { id, tenantId: t.id, label: label ?? null, tokenHash: hashToken(token), connectionId: connectionId ?? null } });
  return { id, token, baseUrl: scimBaseUrl(publicUrl, t), ...(connectionId && { connectionId }) };
}

export async function listScimTokens(t: TenantCtx) {
  return t.db.scimToken.findMany({
    select: { id: true, label: true, connectionId: true, createdAt: true, lastUsedAt: true, revokedAt: true },
    orderBy: { createdAt: 'asc' },
  });
}

export async function revokeScimToken(t: TenantCtx, id: string, clock: Clock) {
  const { count } = await t.db.scimToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: clock.now() } });
  if (count === 0) {
    const exists = await t.db.scimToken.findUnique({ where: { id }, select: { id: true } });
    if (!exists) throw notFound(`No SCIM token ${id} in tenant ${t.slug}`);
  }
  return { id, revoked: true };
}

/**
 * The live token row for a presented token in this tenant, or null. The lookup is by hash (an index), and the hash
 * is compared again in constant time; a token of another tenant is not found through the tenant-scoped client.
 * `lastUsedAt` is refreshed at most once a minute so a busy sync does not write on every request.
 */
export async function verifyScimToken(t: TenantCtx, presented: string, clock: Clock) {
  const hash = hashToken(presented);
  const row = await t.db.scimToken.findUnique({ where: { tokenHash: hash } });
  if (!row || row.revokedAt || !safeEqual(row.tokenHash, hash)) return null;
  const now = clock.now();
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
    await t.db.scimToken.updateMany({ where: { id: row.id }, data: { lastUsedAt: now } });
  }
  return row;
}
