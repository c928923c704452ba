import { resolvePath, type ResourceKind } from './resource-kinds.js';
import { scimBadRequest } from './scim-error.js';
import { findAttr, type AttrDef } from './schema-defs.js';
import { checkScimDocument } from './hostile-json.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Attributes the client may send but the server owns or must never keep (RFC 7643 §3.1; `password` is write-only). */
const serverOwned = new Set(['id', 'meta', 'groups', 'password']);

/**
 * Size limits of stored values (docs/scim.md "Limits"): a string attribute holds at most MAX_STRING characters
 * (identifiers — userName, group displayName, externalId, member ids — at most MAX_KEY), a multi-valued attribute
 * at most MAX_VALUES elements, the extension URNs we do not describe at most MAX_OPAQUE bytes of JSON together (names
 * included). Over a limit
 * is 400 invalidValue naming the attribute: one user must not be able to store megabytes per row.
 */
export const limits = { MAX_STRING: 2048, MAX_KEY: 256, MAX_VALUES: 100, MAX_OPAQUE: 16_384 } as const;

function checkString(v: string, where: string, max: number): string {
  if (v.length > max) throw scimBadRequest('invalidValue', `${where} is longer than ${max} characters`);
  return v;
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "True"/"False" (any case) as Entra's default mode sends them become booleans (scim-dialects §7 rule 3). */
export function coerceBoolean(v: Json, where: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw scimBadRequest('invalidValue', `${where} must be a boolean`);
}

/** Checks and canonicalises one value against its definition; undefined = cleared ("" and null mean unassigned). */
export function canonicalValue(def: AttrDef, v: Json, where: string): Json | undefined {
  if (v === null || v === '') return undefined;
  if (def.multiValued) {
    const items = Array.isArray(v) ? v : [v];
    if (items.length > limits.MAX_VALUES) throw scimBadRequest('invalidValue', `${where} has more than ${limits.MAX_VALUES} values`);
    const out = items.map((item) => canonicalSingle(def, item, where)).filter((x): x is Json => x !== undefined);
    return out.length ? out : undefined;
  }
  return canonicalSingle(def, v, where);
}

function canonicalSingle(def: AttrDef, v: Json, where: string): Json | undefined {
  if (v === null || v === '') return undefined;
  switch (def.type) {
    case 'boolean':
      return coerceBoolean(v, where);
    case 'complex': {
      if (!isObject(v)) throw scimBadRequest('invalidValue', `${where} must be an object`);
      const out: JsonObject = {};
      for (const [k, sv] of Object.entries(v)) {
        const sub = findAttr(def.subAttributes, k);
        // Unknown sub-attributes are ignored, not stored; so are read-only ones (RFC 7643 §2.2 "readOnly … SHALL NOT be
        // modified"; RFC 7644 §3.3: ignored on create): `manager.displayName` is the server's to say, never the client's.
        if (!sub || sub.mutability === 'readOnly') continue;
        const c = canonicalValue(sub, sv, `${where}.${sub.name}`);
        if (c !== undefined) out[sub.name] = c;
      }
      return Object.keys(out).length ? out : undefined;
    }
    case 'integer':
    case 'decimal':
      if (typeof v !== 'number') throw scimBadRequest('invalidValue', `${where} must be a number`);
      return v;
    default:
      if (typeof v !== 'string') throw scimBadRequest('invalidValue', `${where} must be a string`);
      return checkString(v, where, def.name === 'externalId' ? limits.MAX_KEY : limits.MAX_STRING);
  }
}

/**
 * Turns a client's resource into the stored document: attribute names in canonical case, server-owned and
 * write-only attributes dropped, enterprise manager given as a bare id stored as `{value}`, custom extension URNs
 * kept as sent. Unknown core attributes are ignored (RFC 7644 §3.3 lets a provider ignore what it does not know).
 */
export function canonicalResource(kind: ResourceKind, body: unknown): JsonObject {
  if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The request body must be a JSON object');
  checkScimDocument(body);
  const out: JsonObject = {};
  const extensionIds = new Map(kind.extensions.map((e) => [e.id.toLowerCase(), e]));
  let opaqueBytes = 0; // of every undescribed extension together: many URNs under the limit each are still bounded
  for (const [key, value] of Object.entries(body)) {
    const lower = key.toLowerCase();
    if (serverOwned.has(lower) || (kind.name === 'Group' && lower === 'members')) continue;
    if (lower === 'schemas') {
      if (!Array.isArray(value) || value.some((x) => typeof x !== 'string')) {
        throw scimBadRequest('invalidValue', 'schemas must be an array of URIs');
      }
      continue; // recomputed from what is stored
    }
    const ext = extensionIds.get(lower);
    if (ext) {
      if (value === null) continue;
      if (!isObject(value)) throw scimBadRequest('invalidValue', `${ext.id} must be an object`);
      const inner: JsonObject = {};
      for (const [k, v] of Object.entries(value)) {
        const def = findAttr(ext.attributes, k);
        if (!def) continue;
        const c = canonicalValue(def, normaliseManager(def, v), `${ext.id}:${def.name}`);
        if (c !== undefined) inner[def.name] = c;
      }
      if (Object.keys(inner).length) out[ext.id] = { ...(isObject(out[ext.id]) ? (out[ext.id] as JsonObject) : {}), ...inner };
      continue;
    }
    const path = resolvePath(kind, key);
    if (!path) continue;
    // The same attribute by its URN-qualified name (RFC 7643 §3.10: `urn:…:core:2.0:User:password` is `password`).
    if (!path.custom && !path.urn && (serverOwned.has(path.name.toLowerCase()) || (kind.name === 'Group' && path.name === 'members'))) continue;
    if (path.custom) {
      if (value !== null) opaqueBytes += key.length + JSON.stringify(value).length;
      if (opaqueBytes > limits.MAX_OPAQUE) {
        throw scimBadRequest('invalidValue', `${key} is larger than ${limits.MAX_OPAQUE} bytes (with the other extensions we do not describe)`);
      }
      if (value !== null) out[key] = value; // a custom extension object, kept and returned as sent
      continue;
    }
    if (!path.attr || path.sub) continue;
    const def = path.attr;
    const c = canonicalValue(def, normaliseManager(def, value), key);
    if (path.urn) {
      const inner = isObject(out[path.urn]) ? (out[path.urn] as JsonObject) : {};
      if (c !== undefined) out[path.urn] = { ...inner, [def.name]: c };
    } else if (c !== undefined) out[def.name] = c;
  }
  return out;
}

/** Entra sends the manager as a bare id string; RFC 7643 §4.3 makes it a complex `{value}`. */
export function normaliseManager(def: AttrDef, v: Json): Json {
  if (def.name === 'manager' && typeof v === 'string') return v === '' ? null : { value: v };
  return v;
}

/** The `schemas` a stored document declares: the core URN plus every extension it carries. */
export function schemasOf(kind: ResourceKind, doc: JsonObject): string[] {
  return [kind.core.id, ...Object.keys(doc).filter((k) => /^urn:/i.test(k))];
}
