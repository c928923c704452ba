import { isObject, schemasOf, type Json, type JsonObject } from './canonicalize.js';
import { etagOf } from './etag.js';
import type { Projection } from './project-attributes.js';
import { groupKind } from './resource-kinds.js';
import type { ScimCtx } from './scim-context.js';
import { scimBadRequest } from './scim-error.js';
import { limits } from './canonicalize.js';

export interface GroupRow {
  id: string;
  displayName: string;
  externalId: string | null;
  attributes: unknown;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export function groupColumns(doc: JsonObject) {
  const displayName = doc.displayName;
  if (typeof displayName !== 'string' || displayName.trim() === '') {
    throw scimBadRequest('invalidValue', 'displayName is required');
  }
  if (displayName.length > limits.MAX_KEY) throw scimBadRequest('invalidValue', `displayName is longer than ${limits.MAX_KEY} characters`);
  return {
    displayName,
    displayNameKey: displayName.toLowerCase(),
    externalId: typeof doc.externalId === 'string' ? doc.externalId : null,
  };
}

/** Whether a read needs the member list: Entra reads groups with excludedAttributes=members (it can be huge). */
export function wantsMembers(p: Projection): boolean {
  if (p.attributes) return p.attributes.some((a) => /^members(\.|$)/i.test(a));
  if (p.excluded) return !p.excluded.some((a) => /^members$/i.test(a));
  return true;
}

export interface MemberRef {
  userId: string;
  display: string;
}

export function renderGroup(c: ScimCtx, row: GroupRow, members: MemberRef[] | null): JsonObject {
  const doc = (isObject(row.attributes as Json) ? row.attributes : {}) as JsonObject;
  const { displayName: _d, externalId: _e, ...rest } = doc;
  const out: JsonObject = { schemas: schemasOf(groupKind, doc), id: row.id };
  if (row.externalId !== null) out.externalId = row.externalId;
  out.displayName = row.displayName;
  Object.assign(out, rest);
  if (members) {
    out.members = members.map((m) => ({ value: m.userId, $ref: `${c.baseUrl}/Users/${m.userId}`, display: m.display, type: 'User' }));
  }
  out.meta = {
    resourceType: 'Group',
    created: row.createdAt.toISOString(),
    lastModified: row.updatedAt.toISOString(),
    location: `${c.baseUrl}/Groups/${row.id}`,
    version: etagOf(row.version),
  };
  return out;
}

export async function membersOf(c: ScimCtx, groupIds: string[]): Promise<Map<string, MemberRef[]>> {
  const map = new Map<string, MemberRef[]>();
  if (!groupIds.length) return map;
  const rows = await c.t.db.groupMembership.findMany({
    where: { groupId: { in: groupIds } },
    select: { groupId: true, userId: true, user: { select: { userName: true, displayName: true } } },
    orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }],
  });
  for (const r of rows) {
    const list = map.get(r.groupId) ?? [];
    list.push({ userId: r.userId, display: r.user.displayName ?? r.user.userName });
    map.set(r.groupId, list);
  }
  return map;
}

/** Renders a page of groups in the requested order; members are loaded only when the response will show them. */
export async function renderGroups(c: ScimCtx, ids: string[], p: Projection): Promise<JsonObject[]> {
  const rows = await c.t.db.group.findMany({ where: { id: { in: ids } } });
  const members = wantsMembers(p) ? await membersOf(c, ids) : null;
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [renderGroup(c, row, members ? (members.get(id) ?? []) : null)] : [];
  });
}
