import { isObject, limits, type Json } from './canonicalize.js';
import type { ScimCtx } from './scim-context.js';
import { scimBadRequest } from './scim-error.js';

/** Users added to and removed from one group by a write, and member ids skipped because no such user exists. */
export interface MemberChange {
  added: string[];
  removed: string[];
  skipped: string[];
}

export const noChange = (): MemberChange => ({ added: [], removed: [], skipped: [] });

const CHUNK = 5000;
const chunks = <T>(xs: T[]) => Array.from({ length: Math.ceil(xs.length / CHUNK) }, (_, i) => xs.slice(i * CHUNK, (i + 1) * CHUNK));

/** Member ids from `[{value, display, $ref}]` (or one object); `$ref: null` is normal from Entra. */
export function memberIds(value: Json | undefined): string[] {
  const items = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  const ids = items.map((m) => {
    if (!isObject(m) || typeof m.value !== 'string' || m.value === '') {
      throw scimBadRequest('invalidValue', 'Each member needs a string value (the user id)');
    }
    if (m.value.length > limits.MAX_KEY) throw scimBadRequest('invalidValue', `members.value is longer than ${limits.MAX_KEY} characters`);
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
 * Splits member ids into users of THIS tenant and unknown ids (the scoped client cannot see other tenants, so another
 * tenant's id is unknown here). Unknown ids are skipped, not refused: Entra keeps retrying a request that fails
 * because one member was deleted out of band, and eventually quarantines the app. Ids of this tenant's groups are
 * dropped without being reported: nested groups are not provisioned.
 */
export async function knownMemberIds(c: ScimCtx, ids: string[]): Promise<{ users: string[]; unknown: string[] }> {
  const users = new Set<string>();
  for (const part of chunks(ids)) {
    for (const u of await c.t.db.user.findMany({ where: { id: { in: part } }, select: { id: true } })) users.add(u.id);
  }
  const missing = ids.filter((id) => !users.has(id));
  const groups = new Set<string>();
  for (const part of chunks(missing)) {
    for (const g of await c.t.db.group.findMany({ where: { id: { in: part } }, select: { id: true } })) groups.add(g.id);
  }
  return { users: ids.filter((id) => users.has(id)), unknown: missing.filter((id) => !groups.has(id)) };
}

/** Adds the known users among `ids` (unknown ones land in `change.skipped`); returns the users actually added. */
export async function addMembers(c: ScimCtx, groupId: string, ids: string[], change: MemberChange): Promise<string[]> {
  const { users, unknown } = await knownMemberIds(c, ids);
  change.skipped.push(...unknown);
  const have = await existing(c, groupId, users);
  const added = users.filter((id) => !have.has(id)); // rule 7: re-adding a member is a success, not a duplicate
  const now = c.s.clock.now();
  for (const part of chunks(added)) {
    await c.t.db.groupMembership.createMany({
      data: part.map((userId) => ({ tenantId: c.t.id, groupId, userId, createdAt: now })),
      skipDuplicates: true,
    });
  }
  change.added.push(...added);
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
export async function replaceMembers(c: ScimCtx, groupId: string, ids: string[], change: MemberChange): Promise<void> {
  const { users, unknown } = await knownMemberIds(c, ids);
  change.skipped.push(...unknown);
  const current = (await c.t.db.groupMembership.findMany({ where: { groupId }, select: { userId: true } })).map((r) => r.userId);
  const wanted = new Set(users);
  const removed = await removeMembers(
    c,
    groupId,
    current.filter((id) => !wanted.has(id)),
  );
  const have = new Set(current);
  change.removed.push(...removed);
  await addMembers(
    c,
    groupId,
    users.filter((id) => !have.has(id)),
    change,
  );
}

/** Longest user-id list carried in one event: NOTIFY payloads are limited to 8000 bytes. */
const MAX_LISTED = 4000;

/**
 * Permissions derived from groups are cached per user on every node: ONE `members.changed` event per change set
 * (a 10,000-member change is one notification, not 10,000). Too many ids to list means "any user of the tenant".
 */
export async function publishMemberChanges(c: ScimCtx, change: MemberChange): Promise<void> {
  const users = [...new Set([...change.added, ...change.removed])];
  if (!users.length) return;
  const listed = JSON.stringify(users).length <= MAX_LISTED;
  await c.s.bus.publish({ type: 'members.changed', tenantId: c.t.id, userIds: listed ? users : null });
}

/** Audit detail (and a warning log) for member ids skipped as unknown; at most 20 are named. */
export function reportSkipped(c: ScimCtx, groupId: string, change: MemberChange): { membersSkipped?: number; skippedIds?: string[] } {
  if (!change.skipped.length) return {};
  const skippedIds = [...new Set(change.skipped)].slice(0, 20);
  c.s.logger.warn({ tenantId: c.t.id, groupId, skipped: change.skipped.length, skippedIds }, 'SCIM group write skipped unknown member ids');
  return { membersSkipped: change.skipped.length, skippedIds };
}
