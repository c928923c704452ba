import { hotQuery, statement } from '../db/hot-sql.js';
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

/** A SCIM token row as its verification reads it. */
export interface ScimTokenRow {
  id: string;
  tokenHash: string;
  revokedAt: Date | null;
  connectionId: string | null;
}

/**
 * $1 tenant, $2 token hash, $3 now. The row, and `lastUsedAt` refreshed in the same statement when it is a minute
 * old or more (a busy sync does not write on every request; a token cache miss is one round trip, not two). Raw SQL
 * bypasses the tenant-scoped client, so the tenant is bound in both: a token of another tenant is never read nor
 * touched (test/scim/token-cache.test.ts). A prepared statement on the driver (hot-sql.ts): every SCIM burst starts here.
 */
const VERIFY_TOKEN = statement(
  'scim_verify_token',
  `WITH r AS (SELECT "id", "tokenHash", "revokedAt", "lastUsedAt", "connectionId" FROM "ScimToken"
                WHERE "tenantId" = $1::text AND "tokenHash" = $2::text),
        touched AS (UPDATE "ScimToken" s SET "lastUsedAt" = $3::timestamp(3) FROM r
                WHERE s."tenantId" = $1::text AND s."id" = r."id" AND r."revokedAt" IS NULL
                  AND (r."lastUsedAt" IS NULL OR r."lastUsedAt" < $3::timestamp(3) - interval '60 seconds')
                RETURNING s."id")
   SELECT r."id", r."tokenHash", r."revokedAt", r."connectionId", (SELECT count(*) FROM touched)::int AS "touched" FROM r`,
);

/**
 * The live token row for a presented token in this tenant, or null. The lookup is by hash (an index), and the hash
 * is compared again in constant time. `lastUsedAt` is refreshed at most once a minute (see VERIFY_TOKEN).
 */
export async function verifyScimToken(t: TenantCtx, presented: string, clock: Clock): Promise<ScimTokenRow | null> {
  const hash = hashToken(presented);
  const [row] = await hotQuery<ScimTokenRow>(t.db, VERIFY_TOKEN, [t.id, hash, clock.now().toISOString()]);
  if (!row || row.revokedAt || !safeEqual(row.tokenHash, hash)) return null;
  return row;
}
