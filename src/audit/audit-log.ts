import type { Db } from '../db/open-database.js';
import { newId } from '../lib/ids.js';
import type { Clock } from '../lib/clock.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { redactDetail } from './redact.js';
import { insertAuditRows } from './insert-audit-rows.js';

export type ActorKind = 'user' | 'admin-cli' | 'scim-token' | 'oauth-client' | 'system' | 'idp';
export type Outcome = 'success' | 'failure' | 'denied';

export interface AuditInput {
  actor: { kind: ActorKind; id?: string | null };
  action: string; // dotted verb: 'scim.user.create', 'oauth.token.exchange', 'mcp.tool.call'…
  target?: { kind: string; id?: string | null };
  outcome: Outcome;
  /** Request facts, when the event comes from HTTP. */
  request?: { ip?: string | undefined; userAgent?: string | undefined; requestId?: string | undefined };
  /** Small JSON, never secrets: keys that look secret are dropped by {@link redactDetail}. */
  detail?: Record<string, unknown>;
}

export type AuditRow = Omit<Prisma.AuditEventCreateManyInput, 'tenantId'> & { id: string; createdAt: Date };

interface Queue {
  t: TenantCtx;
  items: { row: AuditRow; done: (err?: unknown) => void }[];
  writing: boolean;
}

const MAX_BATCH = 500;

/**
 * Append-only audit trail. Nothing in the code base updates or deletes AuditEvent rows.
 *
 * Tenant events are written with group commit: every event recorded while the previous INSERT of its tenant runs
 * joins the next one, so a burst of SCIM writes or tool calls costs one statement per batch instead of one per event.
 * Each `record()` still resolves only once its own row is committed (and rejects if it is not): callers that await
 * it keep "audited before answered". At low load a batch is one event, written at once — nothing waits for a timer.
 */
export class AuditLog {
  readonly #queues = new Map<string, Queue>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async record(t: TenantCtx | null, e: AuditInput): Promise<string> {
    const row = this.#toRow(e);
    if (!t) {
      await this.db.auditEvent.create({ data: row });
      return row.id;
    }
    await this.#enqueue(t, row);
    return row.id;
  }

  #toRow(e: AuditInput): AuditRow {
    return {
      id: newId('evt'),
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
      createdAt: this.clock.now(),
    };
  }

  #enqueue(t: TenantCtx, row: AuditRow): Promise<void> {
    let queue = this.#queues.get(t.id);
    if (!queue) this.#queues.set(t.id, (queue = { t, items: [], writing: false }));
    const q = queue;
    const written = new Promise<void>((resolve, reject) => q.items.push({ row, done: (err) => (err ? reject(err) : resolve()) }));
    if (!q.writing) {
      q.writing = true;
      // setImmediate: events recorded in this turn of the event loop join the same INSERT.
      setImmediate(() => void this.#drain(q));
    }
    return written;
  }

  async #drain(queue: Queue): Promise<void> {
    while (queue.items.length > 0) {
      const batch = queue.items.splice(0, MAX_BATCH);
      try {
        await insertAuditRows(queue.t, batch.map((p) => p.row));
        for (const p of batch) p.done();
      } catch (err) {
        for (const p of batch) p.done(err);
      }
    }
    queue.writing = false;
    this.#queues.delete(queue.t.id);
  }
}
