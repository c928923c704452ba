import { isObject, type Json } from './canonicalize.js';
import type { ScimCtx } from './scim-context.js';
import { scimBadRequest } from './scim-error.js';

/** Users added to and removed from one group by a write; each one gets a `user.changed` event. */
export interface MemberChange {
  added: string[];
  removed: string[];
}

const CHUNK = 5000;
const chunks = <T>(xs: T[]) => Array.from({ length: Math.ceil(xs.length / CHUNK) }, (_, i) => xs.slice(i * CHUNK, (i + 1) * CHUNK));

/** Member ids from `[{value, display, $ref}]` (or one object); `$ref: null` is normal from Entra. */
export function memberIds(value: Json | undefined): string[] {
  const items = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  const ids = items.map((m) => {
    if (!isObject(m) || typeof m.value !== 'string' || m.value === '') {
      throw scimBadRequest('invalidValue', 'Each member needs a string value (the user id)');
    }
    return m.value;
  });
  return [...new Set(ids)];
}

async function existing(c: ScimCtx, groupId: string, userIds: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of chunks(userIds)) {
    const rows = await c.t.db.groupMembership.findMany({ where: { groupId, userId: { in: part } }, select: { userId: true } });
    for (const r of rows) found.add(r.userId);
  }
  return found;
}

/**
 * Only users of THIS tenant can be members (the scoped client cannot see others, so another tenant's id is
 * unknown here). Ids of this tenant's groups are skipped: nested groups are not provisioned.
 */
export async function checkMemberIds(c: ScimCtx, ids: string[]): Promise<string[]> {
  const users = new Set<string>();
  for (const part of chunks(ids)) {
    for (const u of await c.t.db.user.findMany({ where: { id: { in: part } }, select: { id: true } })) users.add(u.id);
  }
  const missing = ids.filter((id) => !users.has(id));
  if (missing.length) {
    const groups = await c.t.db.group.count({ where: { id: { in: missing.slice(0, CHUNK) } } });
    if (groups !== missing.length) throw scimBadRequest('invalidValue', `Unknown member id(s): ${missing.slice(0, 5).join(', ')}`);
  }
  return ids.filter((id) => users.has(id));
}

export async function addMembers(c: ScimCtx, groupId: string, ids: string[]): Promise<string[]> {
  const users = await checkMemberIds(c, ids);
  const have = await existing(c, groupId, users);
  const added = users.filter((id) => !have.has(id)); // rule 7: re-adding a member is a success, not a duplicate
  const now = c.s.clock.now();
  for (const part of chunks(added)) {
    await c.t.db.groupMembership.createMany({
      data: part.map((userId) => ({ tenantId: c.t.id, groupId, userId, createdAt: now })),
      skipDuplicates: true,
    });
  }
  return added;
}

export async function removeMembers(c: ScimCtx, groupId: string, ids: string[] | 'all'): Promise<string[]> {
  const removed =
    ids === 'all'
      ? (await c.t.db.groupMembership.findMany({ where: { groupId }, select: { userId: true } })).map((r) => r.userId)
      : [...(await existing(c, groupId, ids))];
  for (const part of chunks(removed)) {
    await c.t.db.groupMembership.deleteMany({ where: { groupId, userId: { in: part } } });
  }
  return removed;
}

/** A full replace touches only the difference: a 10,000-member group is not rewritten. */
export async function replaceMembers(c: ScimCtx, groupId: string, ids: string[]): Promise<MemberChange> {
  const users = await checkMemberIds(c, ids);
  const current = (await c.t.db.groupMembership.findMany({ where: { groupId }, select: { userId: true } })).map((r) => r.userId);
  const wanted = new Set(users);
  const removed = await removeMembers(
    c,
    groupId,
    current.filter((id) => !wanted.has(id)),
  );
  const have = new Set(current);
  const added = await addMembers(
    c,
    groupId,
    users.filter((id) => !have.has(id)),
  );
  return { added, removed };
}

/** Permissions derived from groups are cached per user elsewhere: tell every node which users changed. */
export async function publishMemberChanges(c: ScimCtx, change: MemberChange): Promise<void> {
  const users = [...new Set([...change.added, ...change.removed])];
  // A few notifications in flight at once: a 10,000-member change should not take 10,000 sequential round trips.
  for (let i = 0; i < users.length; i += 32) {
    await Promise.all(users.slice(i, i + 32).map((userId) => c.s.bus.publish({ type: 'user.changed', tenantId: c.t.id, userId })));
  }
}
