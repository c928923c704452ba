import { canonicalResource, type JsonObject } from './canonicalize.js';
import { applyPatch } from './apply-patch.js';
import { sameJson } from './diff-attributes.js';
import { checkIfMatch } from './etag.js';
import { canonicalPath, expandPathless, normaliseManagerOp, readPatchBody, type PatchOp } from './patch-normalize.js';
import { withStoredCase } from './patch-filter-match.js';
import { userKind } from './resource-kinds.js';
import type { ScimCtx } from './scim-context.js';
import { ScimError } from './scim-error.js';
import { renderUser } from './user-resource.js';
import { loadUserWithGroups, saveUser, storedDoc } from './user-store.js';

/** Normaliser rules for User operations, in order (scim-dialects.md §7). */
export function normaliseUserOps(raw: PatchOp[], doc: JsonObject): PatchOp[] {
  return expandPathless(raw, userKind).flatMap((op) => {
    // `password` is write-only and never stored (issue #3): a password PATCH is accepted and discarded.
    if (/^password$/i.test(op.path!)) return [];
    const manager = normaliseManagerOp(op, doc);
    if (!manager) return [];
    if (manager !== op) return [manager];
    // The value filter decided by the schema's case rules, as GET decides it (patch-filter-match.ts).
    return [withStoredCase(userKind, { ...op, path: canonicalPath(userKind, op.path!) }, doc)];
  });
}

/**
 * RFC 7644 §3.5.2 on a user: read, normalise, apply with scim-patch, re-validate as a whole document, write with a
 * version check (a concurrent writer makes us re-read and re-apply, a few times at most).
 */
export async function patchUser(c: ScimCtx, id: string, body: unknown, ifMatch?: string): Promise<JsonObject> {
  const raw = readPatchBody(body);
  for (let attempt = 0; attempt < 4; attempt++) {
    // One round trip for the user and its groups; the write returns the row as written: no re-read for the response.
    const { row: before, groups } = await loadUserWithGroups(c, id);
    checkIfMatch(ifMatch, before.version);
    const doc = storedDoc(before);
    const patched = applyPatch(doc, normaliseUserOps(raw, doc));
    const next = canonicalResource(userKind, patched);
    // Idempotent writes (re-deactivating, setting the same value) change nothing and are not new events.
    if (sameJson(next, doc)) {
      // The IdP retrying a deactivation whose revocation failed: the user is inactive already, finish the rest.
      if (before.pendingRevocation) await c.s.revocation.complete(c.t, before.id);
      return renderUser(c, before, groups);
    }
    const saved = await saveUser(c, before, next, 'scim.user.patch');
    if (saved) return renderUser(c, saved.row, saved.groups);
  }
  throw new ScimError(409, 'The user is being modified concurrently; retry');
}
