import type { OptionSpec, Options, OptionValue } from '../../cli/command-table.js';
import { badRequest } from '../../lib/errors.js';
import type { TenantSettings } from '../../tenants/settings.js';

/** `tenant settings` options of reconciliation (docs/reconciliation.md "Settings"). */
export const reconcileSettingOptions: Record<string, OptionSpec> = {
  'reconcile-schedule': { type: 'string', description: 'on|off — reconcile with the directory connector on a schedule (default on)' },
  'reconcile-interval': { type: 'string', description: 'minutes between scheduled reconciliations (default 60, at least 5)' },
  'reconcile-create-missing': { type: 'string', description: 'on|off — create users and memberships the IdP has and this tenant lacks (default off: reported only)' },
  'reconcile-max-percent': { type: 'string', description: 'mass-deactivation guard: percent of active users one run may deactivate without --confirm (default 10)' },
  'reconcile-max-count': { type: 'string', description: 'mass-deactivation guard: most users one run may deactivate without --confirm (default 50)' },
  'reconcile-source': { type: 'string', description: 'okta|microsoft|google|auto — which directory connector to reconcile with (default auto)' },
};

const onOff = (v: OptionValue, name: string) => {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw badRequest(`--${name} takes on or off`);
};
const number = (v: OptionValue, name: string, min: number, max: number) => {
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+(\.\d+)?$/.test(v) || n < min || n > max) throw badRequest(`--${name} takes a number from ${min} to ${max}`);
  return n;
};

/** The `reconcile` settings after applying the given options to the current ones (null when none was given). */
export function reconcileSettingsPatch(current: TenantSettings['reconcile'], o: Options): TenantSettings['reconcile'] | null {
  const next = { ...current };
  let changed = false;
  const set = <K extends keyof typeof next>(k: K, v: (typeof next)[K]) => {
    next[k] = v;
    changed = true;
  };
  if (o['reconcile-schedule'] !== undefined) set('scheduled', onOff(o['reconcile-schedule'], 'reconcile-schedule'));
  if (o['reconcile-interval'] !== undefined) set('intervalMinutes', Math.round(number(o['reconcile-interval'], 'reconcile-interval', 5, 7 * 24 * 60)));
  if (o['reconcile-create-missing'] !== undefined) set('createMissing', onOff(o['reconcile-create-missing'], 'reconcile-create-missing'));
  if (o['reconcile-max-percent'] !== undefined) set('maxDeactivatePercent', number(o['reconcile-max-percent'], 'reconcile-max-percent', 0, 100));
  if (o['reconcile-max-count'] !== undefined) set('maxDeactivateCount', Math.round(number(o['reconcile-max-count'], 'reconcile-max-count', 0, 1_000_000)));
  const source = o['reconcile-source'];
  if (source !== undefined) {
    if (source === 'auto') set('source', undefined);
    else if (source === 'okta' || source === 'microsoft' || source === 'google') set('source', source);
    else throw badRequest('--reconcile-source takes okta, microsoft, google or auto');
  }
  if (next.source === undefined) delete next.source;
  return changed ? next : null;
}
