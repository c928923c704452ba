import { scimPatch, ScimError as PatchLibError, NoTarget, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import type { JsonObject } from './canonicalize.js';
import type { PatchOp } from './patch-normalize.js';
import { ScimError, scimBadRequest } from './scim-error.js';

/**
 * Applies normalised operations to a stored document with scim-patch. `treatMissingAsAdd` must be passed
 * explicitly (it defaults on only when no options object is given): a filtered add/replace whose element does
 * not exist yet creates it (Entra, SCIM-SDK #416).
 */
export function applyPatch(doc: JsonObject, ops: PatchOp[]): JsonObject {
  if (!ops.length) return doc;
  const resource = { ...doc, schemas: [], meta: { created: new Date(0), lastModified: new Date(0) } } as unknown as ScimResource;
  try {
    const out = scimPatch(resource, ops as ScimPatchOperation[], { mutateDocument: false, treatMissingAsAdd: true });
    const { meta: _m, schemas: _s, ...rest } = out as unknown as JsonObject;
    return rest;
  } catch (err) {
    if (err instanceof NoTarget) throw scimBadRequest('noTarget', 'The path matches nothing to change');
    if (err instanceof PatchLibError) throw scimBadRequest('invalidPath', err.message || 'The PATCH cannot be applied');
    if (err instanceof ScimError) throw err;
    // The library throws plain errors on shapes it does not expect (e.g. a value of the wrong type).
    if (err instanceof TypeError || err instanceof Error) throw scimBadRequest('invalidValue', 'The PATCH value does not fit the attribute');
    throw err;
  }
}
