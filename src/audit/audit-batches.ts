import type { Logger } from 'pino';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AuditRow } from './audit-log.js';

/** Rows per INSERT: enough to amortise a round trip, few enough for one JSON parameter. */
export const MAX_BATCH = 500;
/**
 * How long a background event may wait for company before it is written: the node's window, opened by the first
 * background row that finds none open. 100 ms fills statements of ~100 rows at 1,000 tool calls/s, which measurably
 * cuts the database's work per event (decisions 0007, 0055).
 */
export const BACKGROUND_LINGER_MS = 100;
/**
 * Rows of the statement that writes a window's batches of several tenants together (decision 0055): it bounds how
 * long those tenants' chain heads stay locked by one commit (~30 µs of PostgreSQL per row), which an awaited event of
 * one of them may wait for, and the JSON parameter (~0.5 MB). Tenants past it are written at once on their own.
 */
export const MAX_SHARED_ROWS = 1_000;
/** Background rows (all tenants, queued or being written) above which background callers are held back. */
export const MAX_PENDING_BACKGROUND = 10_000;
/** Retry delays of a tenant's background rows while the database cannot be reached: doubling, capped. */
export const RETRY_FIRST_MS = 100;
export const RETRY_MAX_MS = 5_000;

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
  /** Writes several tenants' batches in one statement, all or none (decision 0055); absent: one statement each. */
  insertBatches?: ((batches: { t: TenantCtx; rows: AuditRow[] }[]) => Promise<void>) | undefined;
  logger: Logger;
  schedule: Schedule;
  lingerMs: number;
  maxPendingBackground: number;
  /** Rows of a window's shared statement at most (MAX_SHARED_ROWS; tests lower it). */
  maxSharedRows?: number | undefined;
  /** Whether the database answers: a batch that failed while it does not is kept and retried, not given up. */
  isAvailable: () => Promise<boolean>;
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
  /** Consecutive failed writes while the database was unreachable; a retry is armed while > 0. */
  failures: number;
  /** Cancels the armed retry; set while one is armed. */
  cancelRetry: (() => void) | undefined;
  flushes: { until: number; resolve: () => void }[];
}

const ACCEPTED = Promise.resolve();

/** A batch taken from a tenant's queue, on its way to the database. */
interface Part {
  q: TenantQueue;
  batch: Item[];
}

/**
 * Group commit of audit rows, queued per tenant (docs/decisions/0007). Awaited rows are written at once — with
 * whatever else their tenant has queued — and their promise settles with their own batch. Background rows linger in
 * the node's window of `lingerMs` (or until their tenant's batch is full); when it ends, every tenant's lingering
 * batch goes in ONE statement (decision 0055), so a node pays one statement per window, not one per event or tenant.
 */
export class AuditBatches {
  readonly #queues = new Map<string, TenantQueue>();
  /** Ends the node's open window early; set while one is open. */
  #cancelWindow: (() => void) | undefined;
  #pendingBackground = 0;
  #room: (() => void)[] = [];
  #failed = 0;

  constructor(private readonly opts: AuditBatchOptions) {}

  /** Background events the database refused while it was up (a bug, not load: each failure is logged as an error). */
  get failedBackground(): number {
    return this.#failed;
  }

  /** Background events accepted and not yet committed (all tenants). */
  get pendingBackground(): number {
    return this.#pendingBackground;
  }

  write(t: TenantCtx, row: AuditRow): Promise<void> {
    const q = this.#queue(t);
    const written = new Promise<void>((resolve, reject) => q.items.push({ row, done: (err) => (err ? reject(err) : resolve()) }));
    q.urgentUntil = ++q.queued;
    // Its caller is waiting: try at once rather than after the retry delay (it fails fast if the database is still away).
    q.cancelRetry?.();
    q.cancelRetry = undefined;
    this.#schedule(q);
    return written;
  }

  /**
   * Queues a row nobody waits for. Above `maxPendingBackground` pending rows (a slow or unreachable database) the
   * returned promise resolves only once the backlog is back under it: every caller awaits it, so producers are slowed
   * to the database's pace (back-pressure) and memory stays bounded by the callers in flight. A row is never dropped
   * for lack of room, and a batch that fails while the database is unreachable is kept and retried in order.
   */
  writeInBackground(t: TenantCtx, row: AuditRow): Promise<void> {
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
      settled.push(new Promise((resolve) => q.flushes.push({ until: q.queued, resolve })));
    }
    this.#cancelWindow?.();
    this.#endWindow();
    await Promise.all(settled);
  }

  #queue(t: TenantCtx): TenantQueue {
    let q = this.#queues.get(t.id);
    if (!q) {
      q = { t, items: [], queued: 0, taken: 0, settled: 0, urgentUntil: 0, writing: false, failures: 0, cancelRetry: undefined, flushes: [] };
      this.#queues.set(t.id, q);
    }
    return q;
  }

  #mustWriteNow(q: TenantQueue): boolean {
    return q.taken < q.urgentUntil || q.items.length >= MAX_BATCH || this.#pendingBackground > this.opts.maxPendingBackground;
  }

  /** Decides what an idle queue does next: write now, linger, or go away. A writing queue decides after its batch. */
  #schedule(q: TenantQueue): void {
    if (q.writing || q.cancelRetry) return;
    if (q.items.length === 0) {
      this.#queues.delete(q.t.id);
      return;
    }
    if (this.#mustWriteNow(q)) {
      q.writing = true;
      // setImmediate: events recorded in this turn of the event loop join the same INSERT.
      setImmediate(() => void this.#drain(q));
    } else {
      this.#cancelWindow ??= this.opts.schedule(() => this.#endWindow(), this.opts.lingerMs);
    }
  }

  /**
   * The window ends: every tenant's queued rows are due. The idle tenants' batches go in one statement, whole batches
   * up to MAX_SHARED_ROWS rows; a tenant whose batch does not fit, or with more than a batch queued, writes at once on
   * its own (#schedule → #drain).
   */
  #endWindow(): void {
    this.#cancelWindow = undefined;
    const parts: Part[] = [];
    const maxRows = this.opts.maxSharedRows ?? MAX_SHARED_ROWS;
    let rows = 0;
    for (const q of this.#queues.values()) {
      q.urgentUntil = q.queued;
      // A writing queue decides after its batch; one waiting to retry keeps its back-off. Batches are never split.
      const size = Math.min(MAX_BATCH, q.items.length);
      if (q.writing || q.cancelRetry || size === 0 || rows + size > maxRows) continue;
      q.writing = true;
      const batch = q.items.splice(0, size);
      q.taken += batch.length;
      rows += batch.length;
      parts.push({ q, batch });
    }
    void this.#writeParts(parts);
    for (const q of [...this.#queues.values()]) this.#schedule(q);
  }

  /** One statement for all the parts when there are several; each on its own after a failure, or when alone. */
  async #writeParts(parts: Part[]): Promise<void> {
    const together = parts.length > 1 && this.opts.insertBatches !== undefined && (await this.#writeTogether(parts));
    // After a failed shared statement each batch is written on its own: a tenant's bad batch fails only its own rows.
    if (!together) for (const p of parts) await this.#writeAlone(p.q, p.batch);
    for (const p of parts) {
      p.q.writing = false;
      this.#schedule(p.q);
    }
  }

  async #drain(q: TenantQueue): Promise<void> {
    while (q.items.length > 0 && this.#mustWriteNow(q)) {
      const batch = q.items.splice(0, MAX_BATCH);
      q.taken += batch.length;
      if (!(await this.#writeAlone(q, batch))) break;
    }
    q.writing = false;
    this.#schedule(q);
  }

  /** One statement for several tenants' batches; false (nothing settled) when it failed. */
  async #writeTogether(parts: Part[]): Promise<boolean> {
    try {
      await this.opts.insertBatches!(parts.map((p) => ({ t: p.q.t, rows: p.batch.map((i) => i.row) })));
    } catch {
      return false;
    }
    for (const p of parts) {
      p.q.failures = 0;
      this.#settle(p.q, p.batch, undefined);
    }
    return true;
  }

  /** One tenant's batch in a statement of its own; false when it failed with the database away and a retry is armed. */
  async #writeAlone(q: TenantQueue, batch: Item[]): Promise<boolean> {
    let failure: unknown;
    try {
      await this.opts.insertRows(q.t, batch.map((i) => i.row));
      q.failures = 0;
    } catch (err) {
      failure = err ?? new Error('audit batch failed');
    }
    if (failure && batch.some((i) => !i.done) && !(await this.opts.isAvailable())) {
      this.#retryLater(q, batch, failure);
      return false;
    }
    // The database is up and refused the statement: a row it cannot take must cost only itself, never the other
    // events of its window (an attacker's input would otherwise erase its neighbours' audit). Each row alone.
    if (failure && batch.length > 1) {
      for (const item of batch) await this.#writeAlone(q, [item]);
      return true;
    }
    this.#settle(q, batch, failure);
    return true;
  }

  /**
   * The database is unreachable: awaited rows fail now (their callers answer an error), background rows go back to
   * the head of the queue, in order, and are tried again after a doubling delay — acknowledged events are not lost.
   */
  #retryLater(q: TenantQueue, batch: Item[], failure: unknown): void {
    const background = batch.filter((i) => !i.done);
    for (const item of batch) item.done?.(failure);
    q.items.unshift(...background);
    q.taken -= background.length;
    q.settled += batch.length - background.length;
    q.urgentUntil = Math.max(q.urgentUntil, q.taken + background.length);
    const delay = Math.min(RETRY_FIRST_MS * 2 ** q.failures, RETRY_MAX_MS);
    q.failures++;
    // Once per outage and then every tenth retry: loud, not a flood.
    if (q.failures % 10 === 1) {
      this.opts.logger.error({ err: failure, tenantId: q.t.id, events: background.length, retryInMs: delay }, 'database unreachable: keeping background audit events to retry');
    }
    q.cancelRetry = this.opts.schedule(() => {
      q.cancelRetry = undefined;
      this.#schedule(q);
    }, delay);
  }

  #settle(q: TenantQueue, batch: Item[], failure: unknown): void {
    let background = 0;
    for (const item of batch) {
      if (item.done) item.done(failure);
      else background++;
    }
    if (failure && background > 0) {
      this.#failed += background;
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
