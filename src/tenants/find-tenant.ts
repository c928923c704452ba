import type { Db } from '../db/open-database.js';
import { looksLikeSlug } from './slug.js';
import { tenantContext, type TenantCtx } from './tenant-context.js';

/** The active tenant with this slug, or null (unknown, malformed or disabled: callers answer the same 404). */
export async function findActiveTenant(db: Db, slug: string): Promise<TenantCtx | null> {
  if (!looksLikeSlug(slug)) return null;
  const row = await db.tenant.findUnique({ where: { slug } });
  return row && row.status === 'active' ? tenantContext(db, row) : null;
}

/** Any tenant by slug, including disabled ones (admin CLI). */
export async function findTenantBySlug(db: Db, slug: string): Promise<TenantCtx | null> {
  const row = await db.tenant.findUnique({ where: { slug } });
  return row ? tenantContext(db, row) : null;
}
