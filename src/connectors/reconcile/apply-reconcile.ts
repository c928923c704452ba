import { addMembers, noChange, publishMemberChanges, removeMembers } from '../../scim/group-members.js';
import { touchGroup } from '../../scim/group-store.js';
import { auditWrite, type ScimCtx } from '../../scim/scim-context.js';
import { scimBaseUrl } from '../../scim/scim-tokens.js';
import { createUser, loadUser, saveUser, storedDoc } from '../../scim/user-store.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { userDoc } from '../sync-directory.js';
import type { ReconcileChange } from './plan-reconcile.js';

/** A planned change and how applying it went. */
export type AppliedChange = Omit<ReconcileChange, 'user'> & { result?: 'applied' | 'skipped'; note?: string; error?: string };

/** What reconciliation's writes are audited as: actor system:reconcile, detail.source = 'reconcile'. */
export const RECONCILE_ACTOR = { kind: 'system', id: 'reconcile' } as const;

/** Deactivates through the SCIM store's save (the same UPDATE + revocation as an IdP's PATCH active=false). */
async function deactivate(c: ScimCtx, userId: string): Promise<'applied' | 'skipped'> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const before = await loadUser(c, userId);
    // The IdP's own push (or an admin) got there first.
    if (!before.active) return 'skipped';
    if (await saveUser(c, before, { ...storedDoc(before), active: false }, 'reconcile.user.deactivate')) return 'applied';
  }
  throw new Error('The user is being modified concurrently; the next run retries');
}

/** Removes (or adds) one membership as SCIM's group writes do: the member set, the group's version, one bus event. */
async function membership(c: ScimCtx, change: Extract<ReconcileChange, { op: 'remove-membership' | 'add-membership' }>): Promise<'applied' | 'skipped'> {
  const set = noChange();
  if (change.op === 'remove-membership') set.removed.push(...(await removeMembers(c, change.groupId, [change.userId])));
  else await addMembers(c, change.groupId, [change.userId], set);
  if (!set.added.length && !set.removed.length) return 'skipped';
  await touchGroup(c, change.groupId);
  // Tools granted through the group leave the user's cached permissions on every node now.
  await publishMemberChanges(c, set);
  await auditWrite(c, change.op === 'remove-membership' ? 'reconcile.group.member.remove' : 'reconcile.group.member.add', { kind: 'user', id: change.userId }, { groupId: change.groupId, group: change.group });
  return 'applied';
}

async function createMissing(c: ScimCtx, change: Extract<ReconcileChange, { op: 'create-user' }>): Promise<'applied'> {
  const created = await createUser(c, userDoc(change.user));
  const set = noChange();
  for (const groupId of change.groupIds) {
    await addMembers(c, groupId, [String(created.id)], set);
    await touchGroup(c, groupId);
  }
  await publishMemberChanges(c, set);
  return 'applied';
}

/**
 * Applies a plan through the SCIM store functions with the `reconcile` principal: each write records its audit event
 * in its own transaction with `source: 'reconcile'`, the run id and the evidence (what the IdP said). A change that
 * fails is reported with its error and the rest go on; the next run sees what is still different.
 */
export async function applyReconcile(s: Services, t: TenantCtx, runId: string, changes: ReconcileChange[]): Promise<AppliedChange[]> {
  const base: ScimCtx = { s, t, principal: RECONCILE_ACTOR, baseUrl: scimBaseUrl(s.config.publicUrl, t), request: {} };
  const out: AppliedChange[] = [];
  for (const change of changes) {
    const c: ScimCtx = { ...base, origin: { detail: { source: 'reconcile', runId, reason: 'reason' in change ? change.reason : change.op, evidence: change.evidence }, revocationReason: 'reconcile.deactivated' } };
    const { user: _user, ...shown } = change as ReconcileChange & { user?: unknown };
    const done: AppliedChange = { ...shown };
    try {
      done.result =
        change.op === 'deactivate' ? await deactivate(c, change.userId) : change.op === 'create-user' ? await createMissing(c, change) : await membership(c, change);
      if (done.result === 'skipped') done.note = 'already so: changed since the directory was read';
    } catch (err) {
      done.error = String((err as Error).message ?? err).slice(0, 200);
    }
    out.push(done);
  }
  return out;
}
