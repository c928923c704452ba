import type { Logger } from 'pino';
import type { Db } from '../db/open-database.js';
import { newId } from '../lib/ids.js';
import type { Clock } from '../lib/clock.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { redactDetail } from './redact.js';
import { insertAuditRows } from './insert-audit-rows.js';
import { AuditBatches, BACKGROUND_LINGER_MS, MAX_PENDING_BACKGROUND, unrefTimer, type AuditBatchOptions } from './audit-batches.js';

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

export interface AuditLogOptions extends Partial<Omit<AuditBatchOptions, 'logger'>> {
  /** Where failed background writes and dropped events are reported. */
  logger: Logger;
}

/**
 * Append-only audit trail. Nothing in the code base updates or deletes AuditEvent rows.
 *
 * Tenant events are written with group commit (src/audit/audit-batches.ts): every event recorded while the previous
 * INSERT of its tenant runs joins the next one. `record()` resolves only once its own row is committed (and rejects
 * if it is not): callers that await it keep "audited before answered"; at low load its batch is written at once.
 * `recordInBackground()` is for events nobody waits for (the tool gateway): they linger up to
 * {@link BACKGROUND_LINGER_MS} so a busy tenant pays one INSERT per window; failures are logged here. `flush()`
 * writes everything pending — the server's graceful stop calls it before the database closes.
 */
export class AuditLog {
  readonly #batches: AuditBatches;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    opts: AuditLogOptions,
  ) {
    this.#batches = new AuditBatches({
      logger: opts.logger,
      insertRows: opts.insertRows ?? insertAuditRows,
      schedule: opts.schedule ?? unrefTimer,
      lingerMs: opts.lingerMs ?? BACKGROUND_LINGER_MS,
      maxPendingBackground: opts.maxPendingBackground ?? MAX_PENDING_BACKGROUND,
    });
  }

  async record(t: TenantCtx | null, e: AuditInput): Promise<string> {
    const row = this.#toRow(e);
    if (!t) {
      await this.db.auditEvent.create({ data: row });
      return row.id;
    }
    await this.#batches.write(t, row);
    return row.id;
  }

  /**
   * Records a tenant event that nobody waits for; it is written within the linger window. Normally resolves at once;
   * when the database falls far behind it resolves once there is room again (back-pressure: await it). Never rejects.
   */
  recordInBackground(t: TenantCtx, e: AuditInput): Promise<void> {
    return this.#batches.writeInBackground(t, this.#toRow(e));
  }

  /** Writes every pending event now; resolves when all are committed (or failed and logged). */
  flush(): Promise<void> {
    return this.#batches.flush();
  }

  /** Background events accepted and not yet written; /metrics reports it as the audit backlog. */
  get backlog(): number {
    return this.#batches.pendingBackground;
  }

  /** Background events dropped because the queue was full (the database far behind); should stay 0. */
  get droppedBackgroundEvents(): number {
    return this.#batches.droppedBackground;
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
}
