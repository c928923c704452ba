import type { Logger } from 'pino';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AuditRow } from './audit-log.js';

/** Rows per INSERT: enough to amortise a round trip, few enough for one JSON parameter. */
export const MAX_BATCH = 500;
/**
 * How long a background event may wait for company before its tenant's batch is written (after the previous one):
 * 100 ms fills batches of ~100 rows at 1,000 tool calls/s, which measurably cuts the database's work per event
 * (decision 0007).
 */
export const BACKGROUND_LINGER_MS = 100;
/** Background rows (all tenants, queued or being written) above which background callers are held back. */
export const MAX_PENDING_BACKGROUND = 10_000;

/** Runs `run` once after `ms`; returns a cancel function. */
export type Schedule = (run: () => void, ms: number) => () => void;

/** The default linger timer: unref'd, so pending events never keep the process alive (shutdown calls flush()). */
export const unrefTimer: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export interface AuditBatchOptions {
  /** Writes one batch of one tenant in one statement. */
  insertRows: (t: TenantCtx, rows: AuditRow[]) => Promise<void>;
  logger: Logger;
  schedule: Schedule;
  lingerMs: number;
  maxPendingBackground: number;
}

/** A queued row; `done` is absent for background rows, whose failures are logged here instead. */
interface Item {
  row: AuditRow;
  done?: (err?: unknown) => void;
}

interface TenantQueue {
  t: TenantCtx;
  items: Item[];
  /** Running counts of rows queued, taken into a batch, and settled (committed or failed), in FIFO order. */
  queued: number;
  taken: number;
  settled: number;
  /** Rows queued before this count are written without lingering: an awaited event, an expired window, flush(). */
  urgentUntil: number;
  writing: boolean;
  cancelLinger: (() => void) | undefined;
  flushes: { until: number; resolve: () => void }[];
}

const ACCEPTED = Promise.resolve();

/**
 * Per-tenant group commit of audit rows (docs/decisions/0007). Awaited rows are written at once — with whatever
 * else the tenant has queued — and their promise settles with their own batch. Background rows linger up to
 * `lingerMs` (or until a batch is full) so that a busy tenant pays one INSERT per window, not one per event.
 */
export class AuditBatches {
  readonly #queues = new Map<string, TenantQueue>();
  #pendingBackground = 0;
  #room: (() => void)[] = [];
  #dropped = 0;

  constructor(private readonly opts: AuditBatchOptions) {}

  /** Background events dropped since start because the queue was at its hard cap (see {@link writeInBackground}). */
  /** Background events accepted and not yet written (for /metrics). */
  get pendingBackground(): number {
    return this.#pendingBackground;
  }

  get droppedBackground(): number {
    return this.#dropped;
  }

  write(t: TenantCtx, row: AuditRow): Promise<void> {
    const q = this.#queue(t);
    const written = new Promise<void>((resolve, reject) => q.items.push({ row, done: (err) => (err ? reject(err) : resolve()) }));
    q.urgentUntil = ++q.queued;
    this.#schedule(q);
    return written;
  }

  /**
   * Queues a row nobody waits for. Above `maxPendingBackground` pending rows (a slow database) the returned promise
   * resolves only once the backlog is back under it: callers that await it are slowed to the database's pace
   * (back-pressure) and their events are still written. Only past twice the cap — callers that do not await — is a
   * row dropped, counted and logged, so memory stays bounded when the database is down.
   */
  writeInBackground(t: TenantCtx, row: AuditRow): Promise<void> {
    if (this.#pendingBackground >= 2 * this.opts.maxPendingBackground) {
      this.#dropped++;
      // Loud but bounded: the first drop and every 1000th after it.
      if (this.#dropped % 1000 === 1) {
        this.opts.logger.error({ tenantId: t.id, action: row.action, dropped: this.#dropped }, 'audit queue full: dropped a background audit event');
      }
      return ACCEPTED;
    }
    const q = this.#queue(t);
    q.items.push({ row });
    q.queued++;
    this.#pendingBackground++;
    this.#schedule(q);
    return this.#pendingBackground > this.opts.maxPendingBackground ? new Promise((resolve) => this.#room.push(resolve)) : ACCEPTED;
  }

  /** Writes everything queued now; resolves when it is settled (failures are logged or reach their awaiting callers). */
  async flush(): Promise<void> {
    const settled: Promise<void>[] = [];
    for (const q of this.#queues.values()) {
      if (q.settled === q.queued) continue;
      q.urgentUntil = q.queued;
      settled.push(new Promise((resolve) => q.flushes.push({ until: q.queued, resolve })));
      this.#schedule(q);
    }
    await Promise.all(settled);
  }

  #queue(t: TenantCtx): TenantQueue {
    let q = this.#queues.get(t.id);
    if (!q) {
      q = { t, items: [], queued: 0, taken: 0, settled: 0, urgentUntil: 0, writing: false, cancelLinger: undefined, flushes: [] };
      this.#queues.set(t.id, q);
    }
    return q;
  }

  #mustWriteNow(q: TenantQueue): boolean {
    return q.taken < q.urgentUntil || q.items.length >= MAX_BATCH || this.#pendingBackground > this.opts.maxPendingBackground;
  }

  /** Decides what an idle queue does next: write now, linger, or go away. A writing queue decides after its batch. */
  #schedule(q: TenantQueue): void {
    if (q.writing) return;
    if (q.items.length === 0) {
      this.#queues.delete(q.t.id);
      return;
    }
    if (this.#mustWriteNow(q)) {
      q.cancelLinger?.();
      q.cancelLinger = undefined;
      q.writing = true;
      // setImmediate: events recorded in this turn of the event loop join the same INSERT.
      setImmediate(() => void this.#drain(q));
    } else {
      q.cancelLinger ??= this.opts.schedule(() => {
        q.cancelLinger = undefined;
        q.urgentUntil = q.queued;
        this.#schedule(q);
      }, this.opts.lingerMs);
    }
  }

  async #drain(q: TenantQueue): Promise<void> {
    while (q.items.length > 0 && this.#mustWriteNow(q)) {
      const batch = q.items.splice(0, MAX_BATCH);
      q.taken += batch.length;
      let failure: unknown;
      try {
        await this.opts.insertRows(q.t, batch.map((i) => i.row));
      } catch (err) {
        failure = err ?? new Error('audit batch failed');
      }
      this.#settle(q, batch, failure);
    }
    q.writing = false;
    this.#schedule(q);
  }

  #settle(q: TenantQueue, batch: Item[], failure: unknown): void {
    let background = 0;
    for (const item of batch) {
      if (item.done) item.done(failure);
      else background++;
    }
    if (failure && background > 0) {
      // Never the rows: who and what kind of events, and the database's error.
      const actions = [...new Set(batch.map((i) => i.row.action))].slice(0, 10);
      this.opts.logger.error({ err: failure, tenantId: q.t.id, events: background, actions }, 'could not write background audit events');
    }
    q.settled += batch.length;
    for (const f of q.flushes) if (f.until <= q.settled) f.resolve();
    q.flushes = q.flushes.filter((f) => f.until > q.settled);
    this.#pendingBackground -= background;
    if (this.#pendingBackground <= this.opts.maxPendingBackground && this.#room.length > 0) {
      for (const resolve of this.#room.splice(0)) resolve();
    }
  }
}
