import { canonicalResource } from './canonicalize.js';
import { applyPatch } from './apply-patch.js';
import { checkIfMatch } from './etag.js';
import { changedAttributeNames, sameJson } from './diff-attributes.js';
import type { FilterNode } from './filter-parse.js';
import { parseFilter } from './filter-parse.js';
import { addMembers, memberIds, noChange, publishMemberChanges, removeMembers, replaceMembers, reportSkipped, type MemberChange } from './group-members.js';
import { loadGroup, saveGroupDoc, storedGroupDoc, touchGroup } from './group-store.js';
import { canonicalPath, expandPathless, readPatchBody, type PatchOp } from './patch-normalize.js';
import { groupKind } from './resource-kinds.js';
import { auditWrite, type ScimCtx } from './scim-context.js';
import { ScimError, scimBadRequest } from './scim-error.js';

const isMembers = (op: PatchOp) => /^members(\[|$)/i.test(op.path!);

/** Ids named by a member value filter: `value eq "id"`, possibly several joined by `or`. */
function idsOfFilter(node: FilterNode): string[] {
  if (node.kind === 'or') return [...idsOfFilter(node.left), ...idsOfFilter(node.right)];
  if (node.kind === 'compare' && node.op === 'eq' && node.path.toLowerCase() === 'value' && typeof node.value === 'string') {
    return [node.value];
  }
  throw scimBadRequest('invalidFilter', 'Member filters support value eq "id" (joined by or)');
}

/**
 * Membership operations go straight to GroupMembership rows (only changed rows are touched), bypassing the
 * document patcher. Entra's default `Remove members` with a value array removes exactly those members (rule 6;
 * a strict RFC 7644 §3.5.2.2 reading would clear the group, azure-docs #30826).
 */
async function applyMemberOp(c: ScimCtx, groupId: string, op: PatchOp, change: MemberChange): Promise<void> {
  const path = op.path!;
  const bracket = /^members\[(.*)\]$/i.exec(path);
  if (bracket) {
    if (op.op !== 'remove') throw scimBadRequest('invalidPath', 'Only remove may target members[…]');
    change.removed.push(...(await removeMembers(c, groupId, idsOfFilter(parseFilter(bracket[1]!)))));
  } else if (!/^members$/i.test(path)) {
    throw scimBadRequest('invalidPath', `Unsupported members path "${path}"`);
  } else if (op.op === 'add') {
    await addMembers(c, groupId, memberIds(op.value), change);
  } else if (op.op === 'replace') {
    await replaceMembers(c, groupId, memberIds(op.value), change);
  } else {
    const ids = op.value === undefined || op.value === null ? 'all' : memberIds(op.value);
    change.removed.push(...(await removeMembers(c, groupId, ids)));
  }
}

/**
 * RFC 7644 §3.5.2 makes a PATCH all-or-nothing: every member operation is checked (paths, filters, value shapes)
 * before anything is written, so a refused operation leaves the group as it was. Member ids that name no user are
 * not a refusal: they are skipped and audited (see knownMemberIds).
 */
function precheckMemberOps(memberOps: PatchOp[]): void {
  for (const op of memberOps) {
    const bracket = /^members\[(.*)\]$/i.exec(op.path!);
    if (bracket) {
      if (op.op !== 'remove') throw scimBadRequest('invalidPath', 'Only remove may target members[…]');
      idsOfFilter(parseFilter(bracket[1]!));
    } else if (!/^members$/i.test(op.path!)) {
      throw scimBadRequest('invalidPath', `Unsupported members path "${op.path}"`);
    } else if (op.op !== 'remove' || (op.value !== undefined && op.value !== null)) {
      memberIds(op.value);
    }
  }
}

/** RFC 7644 §3.5.2 on a group. Okta's Group Push (rename, then membership ops) is cheap and idempotent here. */
export async function patchGroup(c: ScimCtx, id: string, body: unknown, ifMatch?: string): Promise<void> {
  const ops = expandPathless(readPatchBody(body), groupKind).map((op) => ({ ...op, path: canonicalPath(groupKind, op.path!) }));
  const memberOps = ops.filter(isMembers);
  const docOps = ops.filter((op) => !isMembers(op));
  let before = await loadGroup(c, id);
  checkIfMatch(ifMatch, before.version);
  precheckMemberOps(memberOps);
  let changed: string[] = [];
  for (let attempt = 0; docOps.length; attempt++) {
    if (attempt === 4) throw new ScimError(409, 'The group is being modified concurrently; retry');
    const doc = storedGroupDoc(before);
    const next = canonicalResource(groupKind, applyPatch(doc, docOps));
    if (sameJson(next, doc)) break;
    if (await saveGroupDoc(c, before, next)) {
      changed = changedAttributeNames(doc, next);
      break;
    }
    before = await loadGroup(c, id);
  }
  const change = noChange();
  for (const op of memberOps) await applyMemberOp(c, id, op, change);
  if (!changed.length && !change.added.length && !change.removed.length && !change.skipped.length) return;
  if (change.added.length || change.removed.length) await touchGroup(c, id);
  await publishMemberChanges(c, change);
  await auditWrite(c, 'scim.group.patch', { kind: 'group', id }, {
    changed: change.added.length || change.removed.length ? [...changed, 'members'] : changed,
    membersAdded: change.added.length,
    membersRemoved: change.removed.length,
    ...reportSkipped(c, id, change),
  });
}

