import { isObject, type Json, type JsonObject } from './canonicalize.js';
import { resolvePath, type AttrPath, type ResourceKind } from './resource-kinds.js';

export interface Projection {
  attributes: string[] | null;
  excluded: string[] | null;
}

const list = (v: unknown): string[] | null => {
  if (typeof v !== 'string' || v.trim() === '') return null;
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
};

/** `attributes` / `excludedAttributes` query parameters (RFC 7644 §3.4.2.5), comma-separated attribute paths. */
export function projectionOf(query: Record<string, unknown>): Projection {
  return { attributes: list(query.attributes), excluded: list(query.excludedAttributes) };
}

/** Attributes returned whatever the client asks (RFC 7643 §7 `returned: always`). */
const always = ['schemas', 'id'];

const keyOf = (o: JsonObject, name: string) => Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());

function container(resource: JsonObject, p: AttrPath): JsonObject | null {
  if (!p.urn) return resource;
  const k = keyOf(resource, p.urn);
  const inner = k ? resource[k] : undefined;
  return isObject(inner) ? inner : null;
}

function pick(value: Json, sub: string): Json | undefined {
  if (Array.isArray(value)) {
    const out = value.filter(isObject).map((v) => (keyOf(v, sub) ? { [sub]: v[keyOf(v, sub)!]! } : {}));
    return out;
  }
  if (isObject(value)) {
    const k = keyOf(value, sub);
    return k ? { [sub]: value[k]! } : undefined;
  }
  return undefined;
}

function include(kind: ResourceKind, resource: JsonObject, paths: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of always) if (resource[k] !== undefined) out[k] = resource[k]!;
  for (const raw of paths) {
    const p = resolvePath(kind, raw);
    if (!p) continue; // RFC 7644 §3.4.2.5 does not make an unknown name an error; it simply selects nothing
    const from = container(resource, p);
    const key = from && keyOf(from, p.name);
    if (!from || !key) continue;
    const value = p.subName ? pick(from[key]!, p.subName) : from[key]!;
    if (value === undefined) continue;
    let to = out;
    if (p.urn) {
      const urnKey = keyOf(resource, p.urn)!;
      to = isObject(out[urnKey]) ? (out[urnKey] as JsonObject) : (out[urnKey] = {});
    }
    if (p.subName && isObject(value) && isObject(to[key])) Object.assign(to[key] as JsonObject, value);
    else to[key] = value;
  }
  return out;
}

function exclude(kind: ResourceKind, resource: JsonObject, paths: string[]): JsonObject {
  const out: JsonObject = structuredClone(resource);
  for (const raw of paths) {
    const p = resolvePath(kind, raw);
    if (!p || always.includes(p.name)) continue;
    const from = container(out, p);
    const key = from && keyOf(from, p.name);
    if (!from || !key) continue;
    if (!p.subName) delete from[key];
    else {
      const v = from[key]!;
      for (const item of Array.isArray(v) ? v : [v]) {
        const sk = isObject(item) ? keyOf(item, p.subName) : undefined;
        if (sk && isObject(item)) delete item[sk];
      }
    }
  }
  return out;
}

export function projectResource(kind: ResourceKind, resource: JsonObject, p: Projection): JsonObject {
  if (p.attributes) return include(kind, resource, p.attributes);
  if (p.excluded) return exclude(kind, resource, p.excluded);
  return resource;
}
