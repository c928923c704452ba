import type { Command } from '../../cli/command-table.js';
import { tenantArg, tenantOption } from '../../cli/command-table.js';
import { badRequest } from '../../lib/errors.js';
import { lastReconcileRun } from './reconcile-runs.js';
import { runReconcile } from './run-reconcile.js';

/** `reconcile …` (docs/reconciliation.md). */
export const reconcileCommands: Command[] = [
  {
    name: 'reconcile',
    summary: "compare the tenant with its IdP's directory and deactivate leavers / remove stale memberships (prints the diff as JSON); --dry-run reports only, --confirm passes the mass-deactivation guard, --last shows the last run",
    options: {
      tenant: tenantOption,
      'dry-run': { type: 'boolean', description: 'report the changes without making them' },
      confirm: { type: 'boolean', description: 'apply even when the run would deactivate more users than the guard allows' },
      last: { type: 'boolean', description: "show the tenant's last run (summary and changes) instead of running" },
    },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      if (o.last === true) return { last: await lastReconcileRun(t, { withChanges: true }) };
      if (o['dry-run'] === true && o.confirm === true) throw badRequest('--dry-run and --confirm exclude each other');
      return runReconcile(s, t, { dryRun: o['dry-run'] === true, confirm: o.confirm === true, trigger: 'cli' });
    },
  },
];
