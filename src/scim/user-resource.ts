import type { ScimCtx } from './scim-context.js';
import { schemasOf, isObject, limits, type Json, type JsonObject } from './canonicalize.js';
import { etagOf } from './etag.js';
import { userKind } from './resource-kinds.js';
import { scimBadRequest } from './scim-error.js';

export interface UserRow {
  id: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  attributes: unknown;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  /** Set while a revocation has not completed (src/revocation/revocation-hub.ts); loaded by `loadUser`. */
  pendingRevocation?: unknown;
}

/** Indexed columns derived from the stored document (filters on them never touch the JSON). */
export function userColumns(doc: JsonObject) {
  const userName = doc.userName;
  if (typeof userName !== 'string' || userName.trim() === '') {
    throw scimBadRequest('invalidValue', 'userName is required');
  }
  if (userName.length > limits.MAX_KEY) throw scimBadRequest('invalidValue', `userName is longer than ${limits.MAX_KEY} characters`);
  const externalId = typeof doc.externalId === 'string' ? doc.externalId : null;
  const displayName = typeof doc.displayName === 'string' ? doc.displayName : null;
  return {
    userName,
    userNameKey: userName.toLowerCase(),
    externalId,
    active: doc.active !== false, // RFC 7643 leaves a missing `active` to the provider: absent = active
    displayName,
    email: primaryEmail(doc.emails),
  };
}

/** The primary e-mail (else the work one, else the first), lower-cased for SSO account linking. */
function primaryEmail(emails: Json | undefined): string | null {
  if (!Array.isArray(emails)) return null;
  const list = emails.filter(isObject);
  const pick = list.find((e) => e.primary === true) ?? list.find((e) => e.type === 'work') ?? list[0];
  return pick && typeof pick.value === 'string' ? pick.value.toLowerCase() : null;
}

export interface GroupRef {
  groupId: string;
  displayName: string;
}

/** The SCIM representation (RFC 7643 §4.1): stored document + server-owned id, groups and meta. */
export function renderUser(c: ScimCtx, row: UserRow, groups: GroupRef[]): JsonObject {
  const doc = (isObject(row.attributes as Json) ? row.attributes : {}) as JsonObject;
  const { userName: _u, externalId: _e, active: _a, ...rest } = doc;
  const out: JsonObject = { schemas: schemasOf(userKind, doc), id: row.id };
  if (row.externalId !== null) out.externalId = row.externalId;
  out.userName = row.userName;
  Object.assign(out, rest);
  out.active = row.active;
  if (groups.length) {
    out.groups = groups.map((g) => ({
      value: g.groupId,
      $ref: `${c.baseUrl}/Groups/${g.groupId}`,
      display: g.displayName,
      type: 'direct',
    }));
  }
  out.meta = {
    resourceType: 'User',
    created: row.createdAt.toISOString(),
    lastModified: row.updatedAt.toISOString(),
    location: `${c.baseUrl}/Users/${row.id}`,
    version: etagOf(row.version),
  };
  return out;
}

/** Groups of many users in one query (list pages). */
export async function groupsOfUsers(c: ScimCtx, userIds: string[]): Promise<Map<string, GroupRef[]>> {
  const map = new Map<string, GroupRef[]>();
  if (!userIds.length) return map;
  const rows = await c.t.db.groupMembership.findMany({
    where: { userId: { in: userIds }, group: { source: { not: 'idp' } } }, // SSO-asserted groups are not SCIM resources
    select: { userId: true, groupId: true, group: { select: { displayName: true } } },
    orderBy: [{ groupId: 'asc' }],
  });
  for (const r of rows) {
    const list = map.get(r.userId) ?? [];
    list.push({ groupId: r.groupId, displayName: r.group.displayName });
    map.set(r.userId, list);
  }
  return map;
}
