import type { Prisma } from '../generated/prisma/client.js';
import type { AuditInput } from '../audit/audit-log.js';
import { redactDetail } from '../audit/redact.js';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

interface Pending {
  row: Prisma.AuditEventCreateManyInput;
  done: (err?: unknown) => void;
}

const MAX_BATCH = 500;

/**
 * One INSERT for the batch, with ONE parameter whatever its size: a statement whose shape changes with the row count
 * (createMany) is planned again by the ORM for every new size, which cost more than it saved. Raw SQL bypasses the
 * tenant-scoped client, so the tenant id is bound here from the tenant, never from the rows.
 */
async function insertRows(t: TenantCtx, rows: Prisma.AuditEventCreateManyInput[]): Promise<void> {
  const json = JSON.stringify(rows.map(({ tenantId: _tenantId, ...row }) => row));
  await t.db.$executeRaw`
    INSERT INTO "AuditEvent" ("id", "tenantId", "actorKind", "actorId", "action", "targetKind", "targetId", "outcome", "ip", "userAgent", "requestId", "detail", "createdAt")
    SELECT r."id", ${t.id}, r."actorKind", r."actorId", r."action", r."targetKind", r."targetId", r."outcome", r."ip", r."userAgent", r."requestId", r."detail", r."createdAt"
      FROM jsonb_to_recordset(${json}::jsonb) AS r("id" text, "actorKind" text, "actorId" text, "action" text, "targetKind" text, "targetId" text,
           "outcome" text, "ip" text, "userAgent" text, "requestId" text, "detail" jsonb, "createdAt" timestamp(3))`;
}

/**
 * The `mcp.tool.call` audit events, written in groups: one INSERT per tenant for every call that finished while the
 * previous INSERT ran (group commit). A row per call and a commit per row were the largest remaining cost of the
 * tools/call hot path; at low load a batch is one event and is written at once, so nothing waits for a timer. The
 * rows are exactly those AuditLog.record writes (same columns, same redaction); each call's promise settles when
 * its own row is committed or failed.
 */
export class ToolCallAudit {
  readonly #queues = new Map<string, { t: TenantCtx; items: Pending[]; writing: boolean }>();

  constructor(private readonly s: Pick<Services, 'clock'>) {}

  record(t: TenantCtx, e: AuditInput): Promise<void> {
    const row: Prisma.AuditEventCreateManyInput = {
      id: newId('evt'),
      tenantId: t.id,
      actorKind: e.actor.kind,
      actorId: e.actor.id ?? null,
      action: e.action,
      targetKind: e.target?.kind ?? null,
      targetId: e.target?.id ?? null,
      outcome: e.outcome,
      ip: e.request?.ip ?? null,
      userAgent: e.request?.userAgent?.slice(0, 512) ?? null,
      requestId: e.request?.requestId ?? null,
      detail: redactDetail(e.detail ?? {}) as Prisma.InputJsonValue,
      createdAt: this.s.clock.now(),
    };
    let queue = this.#queues.get(t.id);
    if (!queue) {
      queue = { t, items: [], writing: false };
      this.#queues.set(t.id, queue);
    }
    const written = new Promise<void>((resolve, reject) => queue.items.push({ row, done: (err) => (err ? reject(err) : resolve()) }));
    if (!queue.writing) {
      queue.writing = true;
      // setImmediate: the calls answered in this turn of the event loop join the same INSERT.
      setImmediate(() => void this.#drain(t.id));
    }
    return written;
  }

  async #drain(tenantId: string): Promise<void> {
    const queue = this.#queues.get(tenantId)!;
    while (queue.items.length > 0) {
      const batch = queue.items.splice(0, MAX_BATCH);
      try {
        await insertRows(queue.t, batch.map((p) => p.row));
        for (const p of batch) p.done();
      } catch (err) {
        for (const p of batch) p.done(err);
      }
    }
    queue.writing = false;
    this.#queues.delete(tenantId);
  }
}

const audits = new WeakMap<object, ToolCallAudit>();

/** The node's one tool-call audit writer for these services. */
export function toolCallAudit(s: Pick<Services, 'clock' | 'bus'>): ToolCallAudit {
  let audit = audits.get(s.bus);
  if (!audit) {
    audit = new ToolCallAudit(s);
    audits.set(s.bus, audit);
  }
  return audit;
}
