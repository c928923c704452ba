import type { Db } from '../db/open-database.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AuditRow } from './audit-log.js';

/**
 * Appends a batch of one tenant's audit rows to its hash chain in one statement with ONE JSON parameter whatever its
 * size: a statement whose shape changes with the row count (createMany) is planned again for every new size, which
 * cost more than it saved. audit_append() (migration audit_chain) numbers and chains the rows under the chain head's
 * row lock. Raw SQL bypasses the tenant-scoped client, so the tenant id is bound here from the tenant, never from rows.
 */
export async function insertAuditRows(t: TenantCtx, rows: AuditRow[]): Promise<void> {
  await t.db.$executeRaw`SELECT audit_append(${t.id}, ${JSON.stringify(rows)}::jsonb)`;
}

/** The same for events that belong to no tenant (tenant creation…): they form a chain of their own. */
export async function insertGlobalAuditRows(db: Db, rows: AuditRow[]): Promise<void> {
  await db.$executeRaw`SELECT audit_append(NULL, ${JSON.stringify(rows)}::jsonb)`;
}
