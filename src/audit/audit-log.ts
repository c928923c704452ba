import type { Logger } from 'pino';
import type { Db } from '../db/open-database.js';
import { newTimeOrderedId } from '../lib/ids.js';
import { isoTimestamp } from '../lib/logger.js';
import type { Clock } from '../lib/clock.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import './bigint-json.js';
import { redactDetail } from './redact.js';
import { storableText } from '../lib/lone-surrogates.js';
import { insertAuditBatches, insertAuditRows, insertGlobalAuditRows } from './insert-audit-rows.js';
import { AuditBatches, BACKGROUND_LINGER_MS, MAX_PENDING_BACKGROUND, unrefTimer, type AuditBatchOptions } from './audit-batches.js';

export type ActorKind = 'user' | 'admin-cli' | 'operator' | 'scim-token' | 'oauth-client' | 'system' | 'idp';
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

/**
 * A row as the application builds it; audit_append() adds the tenant, its place in the chain (`seq`) and `hash`.
 * `createdAt` is the ISO 8601 text JSON.stringify would make of the Date (Date.prototype.toJSON): the rows only ever
 * travel as JSON (insert-audit-rows.ts, SCIM's statements), and a Date's toJSON call took serialising a batch off
 * V8's fast path — about half of that JSON.stringify's time per row (issue 17 §1).
 */
export type AuditRow = Omit<Prisma.AuditEventCreateManyInput, 'tenantId' | 'seq' | 'hash'> & { id: string; createdAt: string };

export interface AuditLogOptions extends Partial<Omit<AuditBatchOptions, 'logger'>> {
  /** Where failed background writes and dropped events are reported. */
  logger: Logger;
}

/**
 * Append-only audit trail: the database refuses to update or delete AuditEvent rows, and every row extends its tenant's
 * hash chain (docs/decisions/0015); `audit verify` checks it.
 *
 * Tenant events are written with group commit (src/audit/audit-batches.ts): every event recorded while the previous
 * INSERT of its tenant runs joins the next one. `record()` resolves only once its own row is committed (and rejects
 * if it is not): callers that await it keep "audited before answered"; at low load its batch is written at once.
 * `recordInBackground()` is for events nobody waits for (the tool gateway): they linger in the node's window of
 * {@link BACKGROUND_LINGER_MS}, whose batches of all tenants share one statement (decision 0055), so a node pays one
 * INSERT per window; failures are logged here. `flush()` writes everything pending — the server's graceful stop calls
 * it before the database closes.
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
      // A test that replaces insertRows (to hold or fail writes) gets one statement per tenant unless it passes both.
      insertBatches: opts.insertBatches ?? (opts.insertRows ? undefined : (batches) => insertAuditBatches(db, batches)),
      schedule: opts.schedule ?? unrefTimer,
      lingerMs: opts.lingerMs ?? BACKGROUND_LINGER_MS,
      maxPendingBackground: opts.maxPendingBackground ?? MAX_PENDING_BACKGROUND,
      maxSharedRows: opts.maxSharedRows,
      isAvailable:
        opts.isAvailable ??
        (() =>
          db.$queryRaw`SELECT 1`.then(
            () => true,
            () => false,
          )),
    });
  }

  async record(t: TenantCtx | null, e: AuditInput): Promise<string> {
    const row = this.rowOf(e);
    if (!t) {
      await insertGlobalAuditRows(this.db, [row]);
      return row.id;
    }
    await this.#batches.write(t, row);
    return row.id;
  }

  /**
   * Writes a tenant event inside the caller's transaction (`db` is its client), so the event commits together with
   * the change it records — a crash can leave neither without the other. Skips group commit: use it where that
   * pairing matters more than the shared INSERT (SCIM user writes, docs/decisions/0014).
   */
  async recordIn(db: TenantCtx['db'], t: TenantCtx, e: AuditInput): Promise<string> {
    const row = this.rowOf(e);
    await insertAuditRows({ ...t, db }, [row]);
    return row.id;
  }

  /**
   * Records a tenant event that nobody waits for; it is written within the linger window. Normally resolves at once;
   * when the database falls far behind it resolves once there is room again (back-pressure: await it). Never rejects.
   */
  recordInBackground(t: TenantCtx, e: AuditInput): Promise<void> {
    return this.#batches.writeInBackground(t, this.rowOf(e));
  }

  /** Writes every pending event now; resolves when all are committed (or failed and logged). */
  flush(): Promise<void> {
    return this.#batches.flush();
  }

  /** Background events the database refused while it was up (each logged as an error); should stay 0. */
  get failedBackgroundEvents(): number {
    return this.#batches.failedBackground;
  }

  /** Background events accepted and not yet committed: the audit backlog (metrics). */
  get pendingBackgroundEvents(): number {
    return this.#batches.pendingBackground;
  }

  /** The row an event becomes, for a caller that appends it in a statement of its own (insertAuditRows' SQL). */
  rowOf(e: AuditInput): AuditRow {
    const now = this.clock.now().getTime();
    return {
      // Time-ordered: the table's primary key takes every event at its right edge (lib/ids.ts).
      id: newTimeOrderedId('evt', now),
      actorKind: e.actor.kind,
      actorId: storable(e.actor.id),
      action: e.action,
      targetKind: storable(e.target?.kind),
      targetId: storable(e.target?.id),
      outcome: e.outcome,
      ip: storable(e.request?.ip),
      userAgent: storable(e.request?.userAgent?.slice(0, 512)),
      requestId: storable(e.request?.requestId),
      detail: redactDetail(e.detail ?? {}) as Prisma.InputJsonValue,
      createdAt: isoTimestamp(now),
    };
  }
}

/** Values a client may choose (a tool name, a request id), stored as PostgreSQL takes them (lone-surrogates.ts, storableText). */
const storable = (v: string | null | undefined): string | null => (v == null ? null : storableText(v));
