import { hotQuery, statement } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AuditRow } from './audit-log.js';

/**
 * Appends a batch of one tenant's audit rows to its hash chain in one statement with ONE JSON parameter whatever its
 * size: a statement whose shape changes with the row count (createMany) is planned again for every new size, which
 * cost more than it saved. audit_append() (migration audit_chain) numbers and chains the rows under the chain head's
 * row lock. Raw SQL bypasses the tenant-scoped client, so the tenant id is bound here from the tenant, never from rows.
 * A prepared statement on the driver (hot-sql.ts): the gateway appends a batch per tenant many times a second. Inside
 * a transaction (`recordIn`) the transaction's client has no driver and hotQuery sends the same text through it.
 * The void result stays inside a subquery: only a plain integer column reaches the client (Prisma has no void type).
 */
const AUDIT_APPEND = statement('audit_append', `SELECT 1 AS "ok" FROM (SELECT audit_append($1, $2::jsonb)) a`);

export async function insertAuditRows(t: TenantCtx, rows: AuditRow[]): Promise<void> {
  await hotQuery(t.db, AUDIT_APPEND, [t.id, JSON.stringify(rows)]);
}

/**
 * Several tenants' batches in ONE statement (decision 0055): audit_append_batches() appends each batch to its own
 * tenant's chain exactly as insertAuditRows would, locking the chain heads in chain order. The tenant ids are bound
 * from each batch's tenant, never from rows. All batches commit together or none does.
 */
const AUDIT_APPEND_BATCHES = statement('audit_append_batches', `SELECT 1 AS "ok" FROM (SELECT audit_append_batches($1::jsonb)) a`);

export async function insertAuditBatches(db: Db, batches: { t: TenantCtx; rows: AuditRow[] }[]): Promise<void> {
  await hotQuery(db, AUDIT_APPEND_BATCHES, [JSON.stringify(batches.map((b) => ({ tenant: b.t.id, rows: b.rows })))]);
}

/** The same for events that belong to no tenant (tenant creation…): they form a chain of their own. */
export async function insertGlobalAuditRows(db: Db, rows: AuditRow[]): Promise<void> {
  await hotQuery(db, AUDIT_APPEND, [null, JSON.stringify(rows)]);
}
