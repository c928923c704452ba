import { hotQuery, statement } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import { looksLikeSlug } from './slug.js';
import { tenantContext, type TenantCtx } from './tenant-context.js';

/** Every request to a tenant's endpoints resolves it (cached for seconds, tenant-directory.ts): a prepared statement. */
const TENANT_BY_SLUG = statement('tenant_by_slug', `SELECT "id", "slug", "name", "status", "settings" FROM "Tenant" WHERE "slug" = $1`);

/** The active tenant with this slug, or null (unknown, malformed or disabled: callers answer the same 404). */
export async function findActiveTenant(db: Db, slug: string): Promise<TenantCtx | null> {
  if (!looksLikeSlug(slug)) return null;
  const [row] = await hotQuery<{ id: string; slug: string; name: string; status: string; settings: unknown }>(db, TENANT_BY_SLUG, [slug]);
  return row && row.status === 'active' ? tenantContext(db, row) : null;
}

/** Any tenant by slug, including disabled ones (admin CLI). */
export async function findTenantBySlug(db: Db, slug: string): Promise<TenantCtx | null> {
  const row = await db.tenant.findUnique({ where: { slug } });
  return row ? tenantContext(db, row) : null;
}
