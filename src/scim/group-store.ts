import type { Prisma } from '../generated/prisma/client.js';
import { newId } from '../lib/ids.js';
import { canonicalResource, isObject, type Json, type JsonObject } from './canonicalize.js';
import { checkIfMatch } from './etag.js';
import { changedAttributeNames } from './diff-attributes.js';
import { addMembers, memberIds, noChange, publishMemberChanges, removeMembers, replaceMembers, reportSkipped } from './group-members.js';
import { groupColumns, membersOf, renderGroup, type GroupRow } from './group-resource.js';
import { groupKind } from './resource-kinds.js';
import { auditWrite, type ScimCtx } from './scim-context.js';
import { ScimError, scimNotFound } from './scim-error.js';

/**
 * SCIM sees only the groups it may manage: groups created from SSO assertions (source idp) belong to the IdP's
 * login flow and are neither listed nor writable here, so the two never rewrite each other's members.
 */
export const scimGroups = { source: { not: 'idp' as const } };

export async function loadGroup(c: ScimCtx, id: string): Promise<GroupRow> {
  const row = await c.t.db.group.findFirst({ where: { id, ...scimGroups } });
  if (!row) throw scimNotFound(`Group ${id} not found`);
  return row;
}

/** The stored document with the columns as the source of truth (groups created outside SCIM have an empty one). */
export function storedGroupDoc(row: GroupRow): JsonObject {
  const doc: JsonObject = isObject(row.attributes as Json) ? { ...(row.attributes as JsonObject) } : {};
  doc.displayName = row.displayName;
  if (row.externalId !== null) doc.externalId = row.externalId;
  else delete doc.externalId;
  return doc;
}

export async function renderGroupById(c: ScimCtx, row: GroupRow, withMembers = true): Promise<JsonObject> {
  const members = withMembers ? ((await membersOf(c, [row.id])).get(row.id) ?? []) : null;
  return renderGroup(c, row, members);
}

const membersIn = (body: unknown): Json | undefined => {
  if (!isObject(body)) return undefined;
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'members');
  return key ? body[key] : undefined;
};

export async function createGroup(c: ScimCtx, body: unknown): Promise<JsonObject> {
  const doc = canonicalResource(groupKind, body);
  const cols = groupColumns(doc);
  const ids = memberIds(membersIn(body));
  const now = c.s.clock.now();
  // displayName is not unique (RFC 7643 §4.2 does not say so, and Entra allows duplicates): no 409 here.
  const row = await c.t.db.group.create({
    data: { id: newId('grp'), tenantId: c.t.id, ...cols, attributes: doc as Prisma.InputJsonObject, createdAt: now, updatedAt: now },
  });
  const change = noChange();
  if (ids.length) await addMembers(c, row.id, ids, change);
  await publishMemberChanges(c, change);
  await auditWrite(c, 'scim.group.create', { kind: 'group', id: row.id }, {
    changed: changedAttributeNames({}, doc),
    membersAdded: change.added.length,
    ...reportSkipped(c, row.id, change),
  });
  return renderGroupById(c, row);
}

/** Writes a group's document (not its members) with a version check; false when another writer won. */
export async function saveGroupDoc(c: ScimCtx, before: GroupRow, doc: JsonObject): Promise<boolean> {
  const cols = groupColumns(doc);
  const { count } = await c.t.db.group.updateMany({
    where: { id: before.id, version: before.version },
    data: { ...cols, attributes: doc as Prisma.InputJsonObject, version: { increment: 1 }, updatedAt: c.s.clock.now() },
  });
  // A new name or externalId may make the group stand for an IdP-group grant, or stop (src/tools/idp-group-grants.ts):
  // its members' cached permissions are dropped like on a membership change.
  if (count === 1 && (cols.displayNameKey !== before.displayName.toLowerCase() || cols.externalId !== before.externalId)) {
    const members = await c.t.db.groupMembership.findMany({ where: { groupId: before.id }, select: { userId: true } });
    await publishMemberChanges(c, { ...noChange(), added: members.map((m) => m.userId) });
  }
  return count === 1;
}

/** Membership changes bump the group's version and lastModified without rewriting its document. */
export async function touchGroup(c: ScimCtx, groupId: string): Promise<void> {
  await c.t.db.group.updateMany({ where: { id: groupId }, data: { version: { increment: 1 }, updatedAt: c.s.clock.now() } });
}

/** PUT replaces the document; `members`, when present, replaces the member set (only the difference is written). */
export async function replaceGroup(c: ScimCtx, id: string, body: unknown, ifMatch?: string): Promise<JsonObject> {
  const doc = canonicalResource(groupKind, body);
  groupColumns(doc);
  const members = membersIn(body);
  const before = await loadGroup(c, id);
  checkIfMatch(ifMatch, before.version);
  const ids = members === undefined ? undefined : memberIds(members);
  if (!(await saveGroupDoc(c, before, doc))) throw new ScimError(409, 'The group was modified concurrently; retry');
  const change = noChange();
  if (ids) await replaceMembers(c, id, ids, change);
  await publishMemberChanges(c, change);
  await auditWrite(c, 'scim.group.replace', { kind: 'group', id }, {
    changed: changedAttributeNames(storedGroupDoc(before), doc),
    membersAdded: change.added.length,
    membersRemoved: change.removed.length,
    ...reportSkipped(c, id, change),
  });
  return renderGroupById(c, await loadGroup(c, id));
}

export async function deleteGroup(c: ScimCtx, id: string, ifMatch?: string): Promise<void> {
  const before = await loadGroup(c, id);
  checkIfMatch(ifMatch, before.version);
  const removed = await removeMembers(c, id, 'all');
  await c.t.db.group.deleteMany({ where: { id } });
  await publishMemberChanges(c, { ...noChange(), removed });
  await auditWrite(c, 'scim.group.delete', { kind: 'group', id }, { membersRemoved: removed.length });
}
