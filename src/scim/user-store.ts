import { newId } from '../lib/ids.js';
import { canonicalResource, isObject, type Json, type JsonObject } from './canonicalize.js';
import { changedAttributeNames } from './diff-attributes.js';
import { userKind } from './resource-kinds.js';
import { checkIfMatch } from './etag.js';
import { auditInput, writeAudited, type ScimCtx } from './scim-context.js';
import { UserCreateBatcher } from './user-create-batch.js';
import { selectScimUser, updateScimUser, type UpdatedUser } from './user-statements.js';
import { ScimError, scimNotFound, scimUniqueness } from './scim-error.js';
import { mapUniqueViolation } from './unique-violation.js';
import { renderUser, userColumns, type UserRow } from './user-resource.js';

const taken = 'A user with this userName already exists';

export async function loadUser(c: ScimCtx, id: string): Promise<UserRow> {
  const row = await c.t.db.user.findUnique({ where: { id } });
  if (!row) throw scimNotFound(`User ${id} not found`);
  return row;
}

/**
 * The stored document, with the indexed columns as the source of truth for what they hold: users created outside
 * SCIM (SSO just-in-time, admin) start with an empty document and must still be patchable.
 */
export function storedDoc(row: UserRow): JsonObject {
  const doc: JsonObject = isObject(row.attributes as Json) ? { ...(row.attributes as JsonObject) } : {};
  doc.userName = row.userName;
  doc.active = row.active;
  if (row.externalId !== null) doc.externalId = row.externalId;
  else delete doc.externalId;
  return doc;
}

/** One create batcher per application (its queues are per tenant): decision 0034. */
const createBatchers = new WeakMap<object, UserCreateBatcher>();
function createBatcherOf(s: object): UserCreateBatcher {
  let b = createBatchers.get(s);
  if (!b) createBatchers.set(s, (b = new UserCreateBatcher()));
  return b;
}

export async function createUser(c: ScimCtx, body: unknown): Promise<JsonObject> {
  const doc = canonicalResource(userKind, body);
  const cols = userColumns(doc);
  const now = c.s.clock.now();
  const id = newId('usr');
  const audit = c.s.audit.rowOf(auditInput(c, { action: 'scim.user.create', target: { kind: 'user', id }, detail: { changed: changedAttributeNames({}, doc) } }));
  const scimTokenId = c.principal.kind === 'scim-token' ? c.principal.id : null;
  const outcome = await mapUniqueViolation(taken, () => createBatcherOf(c.s).create(c.t, { user: { id, cols, doc, now, scimTokenId }, audit }));
  if (outcome === 'taken') throw scimUniqueness(taken);
  return renderUser(c, { id, ...cols, attributes: doc, version: 1, createdAt: now, updatedAt: now }, []);
}

/**
 * Stores a new document for an existing user (PUT and PATCH). The version check makes a concurrent write lose
 * instead of silently overwriting (returns null so the caller can retry or refuse). A user turning inactive loses
 * everything they hold BEFORE the response is sent (scim-dialects §2 "Deactivate"): the deactivation and the
 * revocation's start are one UPDATE, so if a revocation step then fails the IdP gets an error, and its retry (or the
 * revocation-retry job) completes the revocation even though the user is already inactive.
 */
export async function saveUser(c: ScimCtx, before: UserRow, doc: JsonObject, action: string): Promise<UpdatedUser | null> {
  const cols = userColumns(doc);
  const changed = changedAttributeNames(storedDoc(before), doc);
  const deactivating = before.active && !cols.active;
  const audit = c.s.audit.rowOf(auditInput(c, { action, target: { kind: 'user', id: before.id }, detail: { changed } }));
  const stamp = deactivating ? c.s.revocation.stamp(c.origin?.revocationReason ?? 'scim.deactivated', { kind: c.principal.kind, id: c.principal.id }) : undefined;
  const revoking = deactivating || Boolean(before.pendingRevocation);
  // Profile caches on every node (claims, e-mail, display name) drop this user: the NOTIFY goes out with the write.
  const event = { type: 'user.changed', tenantId: c.t.id, userId: before.id } as const;
  const notify = revoking ? undefined : c.s.bus.notification(event);
  const saved = await mapUniqueViolation(taken, () =>
    updateScimUser(c.t, { id: before.id, version: before.version, cols, doc, now: c.s.clock.now(), stamp }, audit, notify),
  );
  if (!saved) return null;
  if (!revoking) {
    c.s.bus.deliverLocally(event);
    return saved;
  }
  await c.s.revocation.complete(c.t, before.id);
  return loadUserWithGroups(c, before.id); // the revocation wrote the row again
}

/** A user and its groups in one round trip (404 when there is none). */
export async function loadUserWithGroups(c: ScimCtx, id: string): Promise<UpdatedUser> {
  const found = await selectScimUser(c.t, id);
  if (!found) throw scimNotFound(`User ${id} not found`);
  return found;
}

export async function replaceUser(c: ScimCtx, id: string, body: unknown, ifMatch?: string): Promise<JsonObject> {
  const doc = canonicalResource(userKind, body);
  const before = await loadUser(c, id);
  checkIfMatch(ifMatch, before.version);
  const saved = await saveUser(c, before, doc, 'scim.user.replace');
  if (!saved) throw new ScimError(409, 'The user was modified concurrently; retry');
  return renderUser(c, saved.row, saved.groups);
}

/** Hard delete (RFC 7644 §3.6). The user's access ends first; the audit trail stays. */
export async function deleteUser(c: ScimCtx, id: string, ifMatch?: string): Promise<void> {
  // A retried DELETE whose revocation failed last time runs it again in full (revokeUser is idempotent).
  const before = await loadUser(c, id);
  checkIfMatch(ifMatch, before.version);
  const groups = await c.t.db.groupMembership.findMany({ where: { userId: id }, select: { groupId: true } });
  await c.s.revocation.revokeUser(c.t, id, 'scim.deleted', { kind: c.principal.kind, id: c.principal.id });
  await writeAudited(
    c,
    (db) => db.user.deleteMany({ where: { id } }),
    () => ({ action: 'scim.user.delete', target: { kind: 'user', id }, detail: { groupsLeft: groups.length } }),
  );
}
