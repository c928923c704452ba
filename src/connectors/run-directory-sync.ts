import { badRequest, conflict } from '../lib/errors.js';
import type { Services } from '../services.js';
import { tenantContext, type TenantCtx } from '../tenants/tenant-context.js';
import { findConnector } from './connector-store.js';
import { googleConfig } from './google/google-config.js';
import { googleDirectorySource, type GoogleDirectorySnapshot } from './google/google-directory-source.js';
import { recordSync, syncDirectory, type SyncReport } from './sync-directory.js';

/** Longest a directory sync may take before it is abandoned (its writes so far stand; the next run continues). */
const SYNC_TIMEOUT_MS = 10 * 60_000;

/**
 * How often a sync ignores the stored ETags and reads everything (docs/decisions/0018): a conditional read trusts
 * Google's ETags and skips reconciling when nothing changed, so drift on our side (or a stale ETag) is caught daily.
 */
export const FULL_RESYNC_MS = 24 * 3600_000;

/** Kept in `Connector.lastSync.state` after a run without errors; never shown by `connector list`. */
interface SyncState {
  /** When the last full (unconditional) read was. */
  fullAt: string;
  /** The settings the listing was read and reconciled with: other settings mean a full read. */
  key: string;
  google: GoogleDirectorySnapshot;
}

export interface SyncReads {
  /** Read without ETags (first run, dry run, after an error, a settings change or FULL_RESYNC_MS). */
  full: boolean;
  requests: number;
  notModified: number;
}

/**
 * `connector sync-directory`: reconciles the tenant with its Google directory. Applying changes needs the tenant's
 * provisioning source to be directory sync (never SCIM and sync both); a dry run is always allowed, to preview.
 */
export async function runDirectorySync(s: Services, t: TenantCtx, opts: { dryRun: boolean }): Promise<SyncReport & { id: string; reads: SyncReads }> {
  const connector = await findConnector(t, 'google');
  if (!connector) throw badRequest('This tenant has no Google connector (connector add-google)');
  if (!opts.dryRun && t.settings.provisioning !== 'directory-sync') {
    throw conflict('This tenant is provisioned by SCIM: set `tenant settings --provisioning directory-sync` first (or use --dry-run)');
  }
  const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS);
  const started = s.clock.now();
  const config = googleConfig(connector);
  const key = JSON.stringify([config.customerId, config.adminEmail, config.domains]);
  const prev = (connector.lastSync as { state?: SyncState } | null)?.state;
  const age = prev ? started.getTime() - Date.parse(prev.fullAt) : NaN;
  // A dry run previews against everything Google has, so it always reads in full.
  const full = opts.dryRun || !prev || prev.key !== key || !(age >= 0 && age < FULL_RESYNC_MS);
  const source = googleDirectorySource(s, t, connector, signal, full ? undefined : prev.google);
  let report: SyncReport;
  try {
    report = await syncDirectory(s, t, source, { dryRun: opts.dryRun, domains: config.domains });
  } catch (err) {
    await s.audit.record(t, { actor: { kind: 'system', id: 'directory-sync' }, action: 'connector.directory.sync', target: { kind: 'connector', id: connector.id }, outcome: 'failure', detail: { dryRun: opts.dryRun, error: String((err as Error).message ?? err).slice(0, 200) } });
    throw err;
  }
  if (!opts.dryRun) {
    // Only a run that applied everything may be the base of the next conditional one: after an error, a 304 would
    // skip retrying the item that failed.
    const state: SyncState | undefined = report.errors === 0 ? { fullAt: full ? started.toISOString() : prev!.fullAt, key, google: source.snapshot() } : undefined;
    await recordSync(t, connector.id, report, started, state);
    await s.audit.record(t, {
      actor: { kind: 'system', id: 'directory-sync' },
      action: 'connector.directory.sync',
      target: { kind: 'connector', id: connector.id },
      outcome: report.errors ? 'failure' : 'success',
      detail: { users: report.users, groups: report.groups, changes: report.changes.length, errors: report.errors, full, notModified: source.stats.notModified },
    });
  }
  return { id: connector.id, ...report, reads: { full, ...source.stats } };
}

/**
 * The scheduled job (one node at a time, via the job lease): every tenant whose provisioning is directory sync and
 * whose interval (`tenant settings --directory-sync-interval`, default 15 min) has elapsed since its last sync is synced now.
 */
export async function syncDueDirectories(s: Services): Promise<{ synced: string[]; failed: string[] }> {
  const out = { synced: [] as string[], failed: [] as string[] };
  const now = s.clock.now().getTime();
  for (const row of await s.db.tenant.findMany({ where: { status: 'active' } })) {
    const t = tenantContext(s.db, row);
    if (t.settings.provisioning !== 'directory-sync') continue;
    const connector = await findConnector(t, 'google');
    if (!connector) continue;
    const due = !connector.lastSyncAt || connector.lastSyncAt.getTime() + t.settings.directorySyncIntervalMinutes * 60_000 <= now;
    if (!due) continue;
    try {
      await runDirectorySync(s, t, { dryRun: false });
      out.synced.push(t.slug);
    } catch (err) {
      s.logger.warn({ tenantId: t.id, err: String(err).slice(0, 300) }, 'directory sync failed');
      out.failed.push(t.slug);
    }
  }
  return out;
}
