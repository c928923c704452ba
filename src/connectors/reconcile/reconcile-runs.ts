import { Prisma } from '../../generated/prisma/client.js';
import { conflict } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** A run still marked running after this long died with its process: its lock is released. */
export const RECONCILE_STALE_MS = 30 * 60_000;
/** Runs older than this are deleted by the scheduled job (the audit log keeps every change for good). */
export const RECONCILE_HISTORY_MS = 90 * 24 * 3600_000;
/** Most changes kept with a run (the audit log has every one). */
const MAX_STORED_CHANGES = 1000;

export type RunStatus = 'running' | 'applied' | 'held' | 'failed' | 'abandoned';

const json = (v: unknown) => v as Prisma.InputJsonValue;
const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

/**
 * Starts a run holding the tenant's reconciliation lock (`runningKey` = tenant id, unique): one run per tenant at a
 * time on every node, whether started by the CLI or the job. A lock older than RECONCILE_STALE_MS is taken over.
 */
export async function startRun(s: Services, t: TenantCtx, facts: { source: string; connectorId: string; trigger: string }): Promise<string> {
  const id = newId('rcn');
  const data = { id, tenantId: t.id, runningKey: t.id, status: 'running', startedAt: s.clock.now(), ...facts };
  try {
    await t.db.reconcileRun.create({ data });
    return id;
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  const stale = new Date(s.clock.now().getTime() - RECONCILE_STALE_MS);
  const { count } = await t.db.reconcileRun.updateMany({
    where: { runningKey: t.id, startedAt: { lt: stale } },
    data: { runningKey: null, status: 'abandoned', finishedAt: s.clock.now() },
  });
  if (count === 0) throw conflict('A reconciliation of this tenant is already running; try again when it ends');
  try {
    await t.db.reconcileRun.create({ data });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('A reconciliation of this tenant is already running; try again when it ends');
    throw err;
  }
  return id;
}

/** Ends a run (releasing the lock) with its outcome, summary and changes. */
export async function finishRun(s: Services, t: TenantCtx, id: string, end: { status: RunStatus; summary?: unknown; changes?: unknown[]; error?: string }): Promise<void> {
  await t.db.reconcileRun.updateMany({
    where: { id },
    data: {
      runningKey: null,
      status: end.status,
      finishedAt: s.clock.now(),
      ...(end.summary !== undefined && { summary: json(end.summary) }),
      ...(end.changes && { changes: json(end.changes.slice(0, MAX_STORED_CHANGES)) }),
      ...(end.error !== undefined && { error: end.error.slice(0, 500) }),
    },
  });
}

/** The tenant's most recent reconciliation (for `reconcile --last`, `connector list` and the admin console), or null. */
export async function lastReconcileRun(t: TenantCtx, opts: { withChanges?: boolean } = {}) {
  const row = await t.db.reconcileRun.findFirst({ orderBy: { seq: 'desc' } });
  if (!row) return null;
  return {
    id: row.id,
    source: row.source,
    connectorId: row.connectorId,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    summary: row.summary,
    ...(row.error && { error: row.error }),
    ...(opts.withChanges && { changes: row.changes ?? [] }),
  };
}

/** Deletes runs older than RECONCILE_HISTORY_MS, of every tenant (the scheduled job; system-wide by design). */
export async function pruneRuns(s: Services): Promise<number> {
  const cutoff = new Date(s.clock.now().getTime() - RECONCILE_HISTORY_MS);
  return (await s.db.reconcileRun.deleteMany({ where: { startedAt: { lt: cutoff }, runningKey: null } })).count;
}
