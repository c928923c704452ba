import { isObject, type Json, type JsonObject } from './canonicalize.js';
import { MAX_PATCH_OPERATIONS } from './discovery.js';
import { parseFilter } from './filter-parse.js';
import { checkScimDocument, namesPrototype } from './hostile-json.js';
import { resolvePath, type ResourceKind } from './resource-kinds.js';
import { ScimError, scimBadRequest } from './scim-error.js';
import { ENTERPRISE_SCHEMA, findAttr } from './schema-defs.js';

/** A PATCH operation after the dialect normaliser (scim-dialects.md §7): lower-case op, canonical path. */
export interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  path?: string;
  value?: Json;
}

export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ops = new Set(['add', 'remove', 'replace']);

/**
 * Rules 1–2: the body is a PatchOp message; `op` is compared case-insensitively (Entra sends `Replace`, `Add`);
 * an empty Operations list is a no-op (Microsoft's validator sends one). At most MAX_PATCH_OPERATIONS operations.
 */
export function readPatchBody(body: unknown): PatchOp[] {
  if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The PATCH body must be a PatchOp object');
  checkScimDocument(body);
  const schemas = body.schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA))) {
    throw scimBadRequest('invalidSyntax', `schemas must contain ${PATCH_SCHEMA}`);
  }
  const list = body.Operations ?? body.operations;
  if (!Array.isArray(list)) throw scimBadRequest('invalidSyntax', 'Operations must be an array');
  if (list.length > MAX_PATCH_OPERATIONS) {
    throw scimBadRequest('invalidValue', `A PATCH may carry at most ${MAX_PATCH_OPERATIONS} operations`);
  }
  return list.map((raw, i) => {
    if (!isObject(raw) || typeof raw.op !== 'string' || !ops.has(raw.op.toLowerCase())) {
      throw scimBadRequest('invalidSyntax', `Operations[${i}].op must be add, remove or replace`);
    }
    const path = raw.path ?? raw.Path;
    if (path !== undefined && path !== null && typeof path !== 'string') {
      throw scimBadRequest('invalidPath', `Operations[${i}].path must be a string`);
    }
    const op: PatchOp = { op: raw.op.toLowerCase() as PatchOp['op'] };
    if (typeof path === 'string' && path.trim() !== '') op.path = path.trim();
    const value = raw.value ?? raw.Value;
    if (value !== undefined) op.value = value;
    if (!op.path && op.op === 'remove') throw scimBadRequest('noTarget', 'A remove operation needs a path (RFC 7644 §3.5.2.2)');
    return op;
  });
}

/** Attributes nobody may write (RFC 7643 §3.1, `groups` is computed from Group memberships). */
const readOnly = new Set(['id', 'meta', 'groups']);

/**
 * Rule 4: a path-less add/replace becomes one operation per key of its value — dotted keys (`name.givenName`),
 * URN-qualified keys (`urn:…:User:employeeNumber`) and extension objects alike (aadOptscim062020, Okta).
 * `id`/`schemas`/`meta` inside the value (Okta's group rename sends `id`) are ignored.
 */
export function expandPathless(list: PatchOp[], kind: ResourceKind): PatchOp[] {
  const extensionIds = new Map(kind.extensions.map((e) => [e.id.toLowerCase(), e.id]));
  return list.flatMap((op): PatchOp[] => {
    if (op.path) return [op];
    if (!isObject(op.value)) throw scimBadRequest('invalidValue', 'A path-less operation needs an object value');
    const out: PatchOp[] = [];
    for (const [key, value] of Object.entries(op.value)) {
      const lower = key.toLowerCase();
      if (lower === 'id' || lower === 'schemas' || lower === 'meta') continue;
      const ext = extensionIds.get(lower);
      if (ext && isObject(value)) {
        for (const [sub, v] of Object.entries(value)) out.push({ op: op.op, path: `${ext}:${sub}`, value: v });
      } else out.push({ op: op.op, path: key, value });
    }
    return out;
  });
}

/**
 * Rule 9: resolves a path against the schema case-insensitively and returns it in canonical spelling;
 * unknown attributes → 400 invalidPath, read-only ones → 400 mutability.
 */
export function canonicalPath(kind: ResourceKind, path: string): string {
  // Before anything resolves it: an undescribed extension's path is handed to scim-patch as written (hostile-json.ts).
  if (namesPrototype(path)) throw scimBadRequest('invalidPath', `Unknown attribute in path "${path.slice(0, 200)}"`);
  const bracket = path.indexOf('[');
  const attrPart = bracket < 0 ? path : path.slice(0, bracket);
  let tail = '';
  if (bracket >= 0) {
    const close = path.lastIndexOf(']');
    if (close < bracket) throw scimBadRequest('invalidPath', `Malformed path "${path}"`);
    parseFilter(path.slice(bracket + 1, close)); // validates the value filter (400 invalidFilter)
    tail = path.slice(close + 1);
    if (tail && !/^\.[A-Za-z$][\w$-]*$/.test(tail)) throw scimBadRequest('invalidPath', `Malformed path "${path}"`);
  }
  const p = resolvePath(kind, attrPart);
  if (!p) throw scimBadRequest('invalidPath', `Unknown attribute in path "${path}"`);
  if (p.custom) return path;
  if (readOnly.has(p.name) && !p.urn) throw new ScimError(400, `${p.name} is read-only`, 'mutability');
  const attr = p.attr!;
  let sub = p.subName;
  if (tail) {
    if (sub) throw scimBadRequest('invalidPath', `Malformed path "${path}"`);
    const def = findAttr(attr.subAttributes, tail.slice(1));
    if (!def) throw scimBadRequest('invalidPath', `Unknown sub-attribute in path "${path}"`);
    sub = def.name;
  }
  const filter = bracket >= 0 ? path.slice(bracket, path.lastIndexOf(']') + 1) : '';
  const base = `${p.urn ? `${p.urn}:` : ''}${attr.name}${filter}`;
  return sub ? `${base}.${sub}` : base;
}

const MANAGER = `${ENTERPRISE_SCHEMA}:manager`;

/**
 * Rule 5, the enterprise manager: a bare id string becomes `{value}`; `""`/null clears it; Entra's
 * `remove manager[value eq "id"]` (scim-patch #453) removes the manager only when it is that id.
 */
export function normaliseManagerOp(op: PatchOp, doc: JsonObject): PatchOp | null {
  const m = /^(?:urn:ietf:params:scim:schemas:extension:enterprise:2\.0:user:)?manager(\[(.*)\])?$/i.exec(op.path ?? '');
  if (!m) return op;
  if (m[1]) {
    const ext = doc[ENTERPRISE_SCHEMA];
    const current = isObject(ext) && isObject(ext.manager) ? ext.manager.value : undefined;
    const wanted = /^\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(m[2] ?? '');
    if (op.op !== 'remove' || !wanted) throw scimBadRequest('invalidPath', 'Unsupported manager path');
    return current === JSON.parse(`"${wanted[1]}"`) ? { op: 'remove', path: MANAGER } : null;
  }
  if (op.op === 'remove' || op.value === '' || op.value === null) {
    const ext = doc[ENTERPRISE_SCHEMA];
    return isObject(ext) && ext.manager !== undefined ? { op: 'remove', path: MANAGER } : null;
  }
  if (typeof op.value === 'string') return { op: op.op, path: MANAGER, value: { value: op.value } };
  return { ...op, path: MANAGER };
}
