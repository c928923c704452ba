import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AuditRow } from './audit-log.js';

/**
 * One INSERT for a batch of one tenant's audit rows, with ONE parameter whatever its size: a statement whose shape
 * changes with the row count (createMany) is planned again by the ORM for every new size, which cost more than it
 * saved. Raw SQL bypasses the tenant-scoped client, so the tenant id is bound here from the tenant, never from rows.
 */
export async function insertAuditRows(t: TenantCtx, rows: AuditRow[]): Promise<void> {
  const json = JSON.stringify(rows);
  await t.db.$executeRaw`
    INSERT INTO "AuditEvent" ("id", "tenantId", "actorKind", "actorId", "action", "targetKind", "targetId", "outcome", "ip", "userAgent", "requestId", "detail", "createdAt")
    SELECT r."id", ${t.id}, r."actorKind", r."actorId", r."action", r."targetKind", r."targetId", r."outcome", r."ip", r."userAgent", r."requestId", r."detail", r."createdAt"
      FROM jsonb_to_recordset(${json}::jsonb) AS r("id" text, "actorKind" text, "actorId" text, "action" text, "targetKind" text, "targetId" text,
           "outcome" text, "ip" text, "userAgent" text, "requestId" text, "detail" jsonb, "createdAt" timestamp(3))`;
}
