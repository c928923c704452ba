import type { Db } from '../db/open-database.js';
import { tenantContext, type TenantCtx } from '../tenants/tenant-context.js';

/** The active tenant with this id (the shared OIDC callback learns only the id, from the login state). */
export async function findActiveTenantById(db: Db, id: string): Promise<TenantCtx | null> {
  const row = await db.tenant.findUnique({ where: { id } });
  return row && row.status === 'active' ? tenantContext(db, row) : null;
}
