import { AppError, badRequest, conflict } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import { tenantContext, type TenantCtx } from '../../tenants/tenant-context.js';
import { directoryConnectorFor, directorySourceFor } from '../directory-sources.js';
import { applyReconcile, RECONCILE_ACTOR, type AppliedChange } from './apply-reconcile.js';
import { planReconcile, type ReconcileDrift, type ReconcilePlan } from './plan-reconcile.js';
import { checkGuard, type GuardVerdict } from './reconcile-guard.js';
import { readDirectory, type DirectoryListing } from './read-directory.js';
import { finishRun, pruneRuns, startRun } from './reconcile-runs.js';

/** Longest the directory read may take: a hung IdP API ends the run (nothing changed) instead of holding the lock. */
const READ_TIMEOUT_MS = 10 * 60_000;

export interface ReconcileReport {
  /** Null for a dry run (not recorded). */
  runId: string | null;
  source: string;
  connectorId: string;
  dryRun: boolean;
  /** applied: the changes were made; held: the guard stopped the run (nothing changed); dry-run: only reported. */
  status: 'applied' | 'held' | 'dry-run';
  guard: GuardVerdict;
  counts: ReconcilePlan['counts'];
  changes: AppliedChange[];
  drift: ReconcileDrift;
  errors: number;
}

const message = (err: unknown) => String((err as Error)?.message ?? err).slice(0, 300);

/** Counts stored as the run's summary (the last run is shown per tenant). */
function summarize(r: Omit<ReconcileReport, 'runId'>) {
  const n = (op: string) => r.changes.filter((c) => c.op === op && c.result !== 'skipped' && !c.error).length;
  const planned = (op: string) => r.changes.filter((c) => c.op === op).length;
  return {
    ...r.counts,
    guard: r.guard,
    planned: { deactivate: planned('deactivate'), removeMembership: planned('remove-membership'), addMembership: planned('add-membership'), createUser: planned('create-user') },
    applied: r.status === 'applied' ? { deactivated: n('deactivate'), membershipsRemoved: n('remove-membership'), membershipsAdded: n('add-membership'), created: n('create-user') } : null,
    drift: { missingUsers: r.drift.missingUsers.length, inactiveHere: r.drift.inactiveHere.length, missingMemberships: r.drift.missingMemberships.length, manualNotInDirectory: r.drift.manualNotInDirectory.length, notCovered: r.drift.notCovered, unmatchedGroups: r.drift.unmatchedGroups.length },
    errors: r.errors,
  };
}

async function localState(t: TenantCtx) {
  const users = await t.db.user.findMany({ select: { id: true, userNameKey: true, email: true, externalId: true, active: true, source: true } });
  const groups = await t.db.group.findMany({ select: { id: true, displayName: true, externalId: true, source: true, memberships: { select: { userId: true } } } });
  return { users, groups: groups.map(({ memberships, ...g }) => ({ ...g, members: memberships.map((m) => m.userId) })) };
}

/**
 * `reconcile`: reads the tenant's IdP directory in full, compares it with the tenant, and — unless it is a dry run
 * or the mass-deactivation guard holds it (`confirm` overrides) — applies the difference through the SCIM store with
 * the `reconcile` principal (docs/reconciliation.md). Nothing is written before the whole directory was read; a read
 * that fails, or that lists no users while the tenant has some it covers, fails the run with no change.
 */
export async function runReconcile(s: Services, t: TenantCtx, opts: { dryRun: boolean; confirm?: boolean; trigger?: 'cli' | 'schedule' | 'console' }): Promise<ReconcileReport> {
  if (t.settings.provisioning === 'directory-sync') {
    throw conflict('This tenant is provisioned by directory sync, which already reconciles it with the directory on every run: use `connector sync-directory`');
  }
  const signal = AbortSignal.timeout(READ_TIMEOUT_MS);
  const dir = await directorySourceFor(s, t, signal);
  if (!dir) throw badRequest('This tenant has no directory connector to reconcile with (connector add-google, or add-okta)');
  const facts = { source: dir.source.kind, connectorId: dir.connector.id, trigger: opts.trigger ?? 'cli' };
  // A dry run writes nothing and is not recorded, so it takes no lock and never hides the last real run.
  const runId = opts.dryRun ? null : await startRun(s, t, facts);
  const audit = (outcome: 'success' | 'failure' | 'denied', detail: Record<string, unknown>) =>
    s.audit.record(t, { actor: RECONCILE_ACTOR, action: 'reconcile.run', target: { kind: 'connector', id: dir.connector.id }, outcome, detail: { source: 'reconcile', runId, directory: dir.source.kind, trigger: facts.trigger, ...detail } });
  const fail = async (error: string): Promise<never> => {
    if (runId) {
      await finishRun(s, t, runId, { status: 'failed', error });
      await audit('failure', { error });
    }
    throw new AppError(424, 'directory_unavailable', `${error}; nothing was changed`);
  };

  let listing: DirectoryListing;
  let plan: ReconcilePlan;
  try {
    listing = await readDirectory(dir.source);
    const local = await localState(t);
    if (listing.users.length === 0 && local.users.some((u) => u.active && dir.covers(u.email ?? u.userNameKey))) {
      return await fail(`The ${dir.source.kind} directory listed no users`);
    }
    plan = planReconcile({ listing, users: local.users, groups: local.groups, covers: dir.covers, createMissing: t.settings.reconcile.createMissing });
  } catch (err) {
    if (err instanceof AppError) throw err;
    return await fail(`Reading the ${dir.source.kind} directory failed: ${message(err)}`);
  }

  const guard = checkGuard(plan, t.settings.reconcile);
  const shown = plan.changes.map(({ user: _user, ...c }: { user?: unknown } & ReconcilePlan['changes'][number]) => c as AppliedChange);
  const base = { source: dir.source.kind, connectorId: dir.connector.id, dryRun: opts.dryRun, guard, counts: plan.counts, drift: plan.drift };
  if (opts.dryRun) return { runId, status: 'dry-run', ...base, changes: shown, errors: 0 };

  if (guard.held && !opts.confirm) {
    const report: ReconcileReport = { runId, status: 'held', ...base, changes: shown, errors: 0 };
    await finishRun(s, t, runId!, { status: 'held', summary: summarize(report), changes: shown });
    await audit('denied', { held: guard.reason, limit: guard.limit, deactivations: guard.deactivations, membershipLosses: guard.membershipLosses });
    s.logger.warn({ tenantId: t.id, runId, reason: guard.reason }, 'reconciliation held by the mass-deactivation guard: confirm with `reconcile --confirm`');
    return report;
  }

  const changes = await applyReconcile(s, t, runId!, plan.changes);
  const report: ReconcileReport = { runId, status: 'applied', ...base, changes, errors: changes.filter((c) => c.error).length };
  await finishRun(s, t, runId!, { status: 'applied', summary: summarize(report), changes });
  await audit(report.errors ? 'failure' : 'success', { changes: changes.length, errors: report.errors, ...(guard.held && { confirmed: guard.reason }) });
  return report;
}

/**
 * The scheduled job (one node at a time, through the job lease): every active tenant provisioned by SCIM whose
 * `reconcile.scheduled` is on, that has a directory connector, and whose last run (any outcome) is older than its
 * `reconcile.intervalMinutes` (default hourly) is reconciled now. Held runs stay held until an admin confirms.
 */
export async function reconcileDueTenants(s: Services): Promise<{ reconciled: string[]; held: string[]; failed: string[] }> {
  const out = { reconciled: [] as string[], held: [] as string[], failed: [] as string[] };
  const now = s.clock.now().getTime();
  for (const row of await s.db.tenant.findMany({ where: { status: 'active' } })) {
    const t = tenantContext(s.db, row);
    if (t.settings.provisioning !== 'scim' || !t.settings.reconcile.scheduled) continue;
    if (!(await directoryConnectorFor(t).catch(() => null))) continue;
    const last = await t.db.reconcileRun.findFirst({ orderBy: { seq: 'desc' }, select: { startedAt: true } });
    if (last && last.startedAt.getTime() + t.settings.reconcile.intervalMinutes * 60_000 > now) continue;
    try {
      const report = await runReconcile(s, t, { dryRun: false, trigger: 'schedule' });
      (report.status === 'held' ? out.held : out.reconciled).push(t.slug);
    } catch (err) {
      s.logger.warn({ tenantId: t.id, err: message(err) }, 'scheduled reconciliation failed');
      out.failed.push(t.slug);
    }
  }
  await pruneRuns(s);
  return out;
}
