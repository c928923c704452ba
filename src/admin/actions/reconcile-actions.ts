import { z } from 'zod';
import { runReconcile } from '../../connectors/reconcile/run-reconcile.js';
import { defineAction } from './admin-action.js';

/**
 * `reconcile` from the console: compare with the directory connector and apply (docs/reconciliation.md). `confirm`
 * overrides the mass-deactivation guard of a held run, so the action is sensitive (a fresh sign-in): it can
 * deactivate many users at once.
 */
export const runReconcileAction = defineAction({
  name: 'reconcile.request',
  targetKind: 'connector',
  sensitive: true,
  input: z.object({ confirm: z.boolean().default(false) }),
  run: async (s, t, i) => {
    const report = await runReconcile(s, t, { dryRun: false, confirm: i.confirm, trigger: 'console' });
    return { id: report.runId ?? report.connectorId, status: report.status, changes: report.changes.length, errors: report.errors };
  },
  detail: (i, r) => ({ confirm: i.confirm, status: r.status, changes: r.changes, errors: r.errors }),
});
