import type { ReconcilePlan } from './plan-reconcile.js';

export interface GuardSettings {
  maxDeactivatePercent: number;
  maxDeactivateCount: number;
}

export interface GuardVerdict {
  /** Most users one run may take access from without --confirm. */
  limit: number;
  /** Users the run would deactivate. */
  deactivations: number;
  /** Users (not deactivated) who would lose at least one group membership. */
  membershipLosses: number;
  held: boolean;
  reason?: string;
}

/**
 * The mass-deactivation guard (docs/reconciliation.md): a directory answering with a truncated listing (an empty
 * page, a filter gone wrong, a group whose members came back empty) looks exactly like people leaving. A run that
 * would take access from more users than `min(maxDeactivateCount, ceil(maxDeactivatePercent % of active users))`, or
 * from every active user, is held until an admin confirms it. Deactivations and membership losses are counted
 * apart, each against the limit: a group emptied by mistake revokes tools as surely as deactivations do.
 */
export function checkGuard(plan: ReconcilePlan, settings: GuardSettings): GuardVerdict {
  const active = plan.counts.localActive;
  const limit = Math.min(settings.maxDeactivateCount, Math.ceil((active * settings.maxDeactivatePercent) / 100));
  const deactivated = new Set(plan.changes.flatMap((c) => (c.op === 'deactivate' ? [c.userId] : [])));
  const losing = new Set(plan.changes.flatMap((c) => (c.op === 'remove-membership' && !deactivated.has(c.userId) ? [c.userId] : [])));
  const verdict: GuardVerdict = { limit, deactivations: deactivated.size, membershipLosses: losing.size, held: false };
  if (deactivated.size > 0 && deactivated.size >= active) {
    return { ...verdict, held: true, reason: `would deactivate every active user (${active})` };
  }
  if (deactivated.size > limit) {
    return { ...verdict, held: true, reason: `would deactivate ${deactivated.size} users, more than the limit of ${limit} (min(${settings.maxDeactivateCount}, ${settings.maxDeactivatePercent} % of ${active} active))` };
  }
  if (losing.size > limit) {
    return { ...verdict, held: true, reason: `would remove group memberships of ${losing.size} users, more than the limit of ${limit}` };
  }
  return verdict;
}
