import { badRequest, conflict } from '../lib/errors.js';
import type { Services } from '../services.js';
import { tenantContext, type TenantCtx } from '../tenants/tenant-context.js';
import { findConnector } from './connector-store.js';
import { googleConfig } from './google/google-config.js';
import { googleDirectorySource } from './google/google-directory-source.js';
import { recordSync, syncDirectory, type SyncReport } from './sync-directory.js';

/** Longest a directory sync may take before it is abandoned (its writes so far stand; the next run continues). */
const SYNC_TIMEOUT_MS = 10 * 60_000;

/**
 * `connector sync-directory`: reconciles the tenant with its Google directory. Applying changes needs the tenant's
 * provisioning source to be directory sync (never SCIM and sync both); a dry run is always allowed, to preview.
 */
export async function runDirectorySync(s: Services, t: TenantCtx, opts: { dryRun: boolean }): Promise<SyncReport & { id: string }> {
  const connector = await findConnector(t, 'google');
  if (!connector) throw badRequest('This tenant has no Google connector (connector add-google)');
  if (!opts.dryRun && t.settings.provisioning !== 'directory-sync') {
    throw conflict('This tenant is provisioned by SCIM: set `tenant settings --provisioning directory-sync` first (or use --dry-run)');
  }
  const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS);
  const started = s.clock.now();
  let report: SyncReport;
  try {
    report = await syncDirectory(s, t, googleDirectorySource(s, t, connector, signal), { dryRun: opts.dryRun, domains: googleConfig(connector).domains });
  } catch (err) {
    await s.audit.record(t, { actor: { kind: 'system', id: 'directory-sync' }, action: 'connector.directory.sync', target: { kind: 'connector', id: connector.id }, outcome: 'failure', detail: { dryRun: opts.dryRun, error: String((err as Error).message ?? err).slice(0, 200) } });
    throw err;
  }
  if (!opts.dryRun) {
    await recordSync(t, connector.id, report, started);
    await s.audit.record(t, {
      actor: { kind: 'system', id: 'directory-sync' },
      action: 'connector.directory.sync',
      target: { kind: 'connector', id: connector.id },
      outcome: report.errors ? 'failure' : 'success',
      detail: { users: report.users, groups: report.groups, changes: report.changes.length, errors: report.errors },
    });
  }
  return { id: connector.id, ...report };
}

/**
 * The scheduled job (one node at a time, via the job lease): every tenant whose provisioning is directory sync and
 * whose Google connector's interval (default 15 min) has elapsed since its last sync is synced now.
 */
export async function syncDueDirectories(s: Services): Promise<{ synced: string[]; failed: string[] }> {
  const out = { synced: [] as string[], failed: [] as string[] };
  const now = s.clock.now().getTime();
  for (const row of await s.db.tenant.findMany({ where: { status: 'active' } })) {
    const t = tenantContext(s.db, row);
    if (t.settings.provisioning !== 'directory-sync') continue;
    const connector = await findConnector(t, 'google');
    if (!connector) continue;
    const due = !connector.lastSyncAt || connector.lastSyncAt.getTime() + googleConfig(connector).syncIntervalMinutes * 60_000 <= now;
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
