import { hotQuery, statement } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import { SIGNING_KEYS_OWNER } from '../oauth/signing-keys.js';
import type { SealedSecret } from '../vault/vault.js';
import { looksLikeSlug } from './slug.js';
import { tenantContext, type TenantCtx } from './tenant-context.js';

/**
 * Every tenant's first request on a node, and the first after each 'tenant.changed', starts here (issue 17 §2). The
 * tenant's signing keys come in the same round trip, still sealed (the oldest 'oauth-jwks' vault secret, the row
 * loadSigningKeys would read next): the token check that follows then needs no read of its own (decision 0043). Raw
 * SQL bypasses the tenant-scoped client, so the secret is bound to the tenant row explicitly (tenantId and ownerId);
 * it is decrypted only by the vault (Vault.openString), whose AES-GCM associated data names the tenant and the row.
 * The MCP endpoint's cold read (src/mcp/cold-read.ts) selects the same columns with the token's grant and tools.
 */
export const TENANT_COLUMNS = `t."id", t."slug", t."name", t."settings", t."status", k."id" AS "keysId", k."keyId" AS "keysKeyId", k."ciphertext" AS "keysCiphertext"`;

/** The tenant's oldest secret of owner kind `ownerKind` (an SQL expression), still sealed, bound to the row `t`. */
export function sealedKeysJoin(ownerKind: string): string {
  return `LEFT JOIN LATERAL (
       SELECT s."id", s."keyId", s."ciphertext" FROM "VaultSecret" s
        WHERE s."tenantId" = t."id" AND s."ownerKind" = ${ownerKind} AND s."ownerId" = t."id"
        ORDER BY s."createdAt" ASC, s."id" ASC LIMIT 1
     ) k ON TRUE`;
}

const TENANT_BY_SLUG = statement('tenant_by_slug', `SELECT ${TENANT_COLUMNS} FROM "Tenant" t ${sealedKeysJoin('$2')} WHERE t."slug" = $1`);

/** The columns of {@link TENANT_COLUMNS}. */
export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  settings: unknown;
  status: string;
  keysId: string | null;
  keysKeyId: string | null;
  keysCiphertext: Uint8Array | null;
}

/** An active tenant's context and its signing keys as stored (sealed; null if it has none yet). */
export interface ActiveTenantRead {
  t: TenantCtx;
  sealedSigningKeys: SealedSecret | null;
}

/** The read of a row of {@link TENANT_COLUMNS}: null for no row or a tenant that is not active. */
export function activeTenantOf(db: Db, row: TenantRow | undefined): ActiveTenantRead | null {
  if (!row || row.status !== 'active') return null;
  const sealed = row.keysId !== null && row.keysKeyId !== null && row.keysCiphertext !== null;
  return { t: tenantContext(db, row), sealedSigningKeys: sealed ? { id: row.keysId!, keyId: row.keysKeyId!, ciphertext: row.keysCiphertext! } : null };
}

/**
 * The active tenant with this slug and its signing keys as stored (sealed; null if it has none yet), or null for an
 * unknown, malformed or disabled slug.
 */
export async function readActiveTenant(db: Db, slug: string): Promise<ActiveTenantRead | null> {
  if (!looksLikeSlug(slug)) return null;
  const [row] = await hotQuery<TenantRow>(db, TENANT_BY_SLUG, [slug, SIGNING_KEYS_OWNER]);
  return activeTenantOf(db, row);
}

/** The active tenant with this slug, or null (unknown, malformed or disabled: callers answer the same 404). */
export async function findActiveTenant(db: Db, slug: string): Promise<TenantCtx | null> {
  return (await readActiveTenant(db, slug))?.t ?? null;
}

/** Any tenant by slug, including disabled ones (admin CLI). */
export async function findTenantBySlug(db: Db, slug: string): Promise<TenantCtx | null> {
  const row = await db.tenant.findUnique({ where: { slug } });
  return row ? tenantContext(db, row) : null;
}
