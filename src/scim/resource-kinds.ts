import {
  commonAttrs,
  enterpriseSchema,
  findAttr,
  groupSchema,
  userSchema,
  type AttrDef,
  type SchemaDef,
} from './schema-defs.js';

export interface ResourceKind {
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  core: SchemaDef;
  extensions: SchemaDef[];
}

export const userKind: ResourceKind = { name: 'User', endpoint: '/Users', core: userSchema, extensions: [enterpriseSchema] };
export const groupKind: ResourceKind = { name: 'Group', endpoint: '/Groups', core: groupSchema, extensions: [] };

/** A resolved attribute path: `schema` is null for the core schema (and common attributes). */
export interface AttrPath {
  /** Extension URN owning the attribute (canonical spelling), or null for core/common attributes. */
  urn: string | null;
  attr: AttrDef | null;
  /** Attribute name as stored (canonical for known attributes, as sent for custom-extension ones). */
  name: string;
  sub: AttrDef | null;
  subName: string | null;
  /** True when the URN is an extension we do not describe (kept as opaque JSON). */
  custom: boolean;
}

/**
 * Resolves `name`, `name.sub`, or `urn:…:attr[.sub]` against a resource kind, case-insensitively (RFC 7643 §2.1:
 * attribute names are case-insensitive). A URN-qualified name is split at the LAST `:` (URNs contain dots, `2.0`).
 * Returns null for an unknown attribute of a known schema.
 */
export function resolvePath(kind: ResourceKind, raw: string): AttrPath | null {
  let urn: string | null = null;
  let rest = raw;
  let schema: SchemaDef | null = null;
  if (/^urn:/i.test(raw)) {
    const lower = raw.toLowerCase();
    for (const s of [kind.core, ...kind.extensions]) {
      if (lower.startsWith(`${s.id.toLowerCase()}:`)) {
        schema = s;
        rest = raw.slice(s.id.length + 1);
      }
    }
    if (!schema) {
      const cut = raw.lastIndexOf(':');
      const [name, subName] = splitDot(raw.slice(cut + 1));
      if (!name) return null;
      return { urn: raw.slice(0, cut), attr: null, name, sub: null, subName, custom: true };
    }
    if (schema !== kind.core) urn = schema.id;
  }
  const [name, subName] = splitDot(rest);
  const defs = schema && schema !== kind.core ? schema.attributes : coreAndCommon(kind);
  const attr = findAttr(defs, name);
  if (!attr) return null;
  let sub: AttrDef | null = null;
  if (subName !== null) {
    sub = findAttr(attr.subAttributes, subName) ?? null;
    if (!sub) return null;
  }
  return { urn, attr, name: attr.name, sub, subName: sub?.name ?? null, custom: false };
}

/** A kind's core attributes then the common ones, one array per kind (findAttr indexes it once). */
const coreAndCommonOf = new WeakMap<ResourceKind, AttrDef[]>();
function coreAndCommon(kind: ResourceKind): AttrDef[] {
  let defs = coreAndCommonOf.get(kind);
  if (!defs) coreAndCommonOf.set(kind, (defs = [...kind.core.attributes, ...commonAttrs]));
  return defs;
}

function splitDot(s: string): [string, string | null] {
  const dot = s.indexOf('.');
  return dot < 0 ? [s, null] : [s.slice(0, dot), s.slice(dot + 1)];
}

/** `urn:…:attr.sub` or `attr.sub`: the canonical textual form of a resolved path. */
export function pathText(p: AttrPath): string {
  const base = p.subName ? `${p.name}.${p.subName}` : p.name;
  return p.urn ? `${p.urn}:${base}` : base;
}
