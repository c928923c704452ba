import { isObject, type Json, type JsonObject } from './canonicalize.js';
import { parseFilter, type FilterNode } from './filter-parse.js';
import type { PatchOp } from './patch-normalize.js';
import { resolvePath, type ResourceKind } from './resource-kinds.js';
import { findAttr, type AttrDef } from './schema-defs.js';

/**
 * A PATCH value filter (`emails[value eq "A@X.COM"]`) selects elements by the schema's rules, as a GET filter does
 * (RFC 7644 §3.5.2 refers to §3.4.2.2): strings compare case-insensitively unless the sub-attribute is caseExact
 * (RFC 7643 §2.4). scim-patch compares exactly, so the filter is decided here on the stored elements and handed to it
 * as one that names exactly the elements it matched — each by all its simple sub-attributes, exact values — or left
 * as sent when none matched (an add or replace then creates the element from the filter: Entra's rule). A filter this
 * cannot decide (a sub-attribute the schema does not have) is left to scim-patch and its own refusal.
 */
export function withStoredCase(kind: ResourceKind, op: PatchOp, doc: JsonObject): PatchOp {
  const path = op.path;
  const open = path?.indexOf('[') ?? -1;
  if (!path || open < 0) return op;
  const close = path.lastIndexOf(']');
  const p = resolvePath(kind, path.slice(0, open));
  if (!p || p.custom || !p.attr || !p.attr.multiValued || p.attr.type !== 'complex') return op;
  const stored = p.urn ? (isObject(doc[p.urn]) ? (doc[p.urn] as JsonObject)[p.attr.name] : undefined) : doc[p.attr.name];
  if (!Array.isArray(stored)) return op;
  const filter = parseFilter(path.slice(open + 1, close));
  const matched: JsonObject[] = [];
  for (const element of stored) {
    if (!isObject(element)) continue;
    const hit = holds(filter, element, p.attr);
    if (hit === undefined) return op;
    if (hit) matched.push(element);
  }
  const exact = matched.map(exactFilter).filter((f): f is string => f !== null);
  if (exact.length === 0 || exact.length !== matched.length) return op;
  return { ...op, path: `${path.slice(0, open)}[${exact.join(' or ')}]${path.slice(close + 1)}` };
}

/** `(a eq "x" and b eq true)` over an element's simple sub-attributes; null when it has none. */
function exactFilter(element: JsonObject): string | null {
  const parts = Object.entries(element)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number')
    .map(([k, v]) => `${k} eq ${JSON.stringify(v)}`);
  return parts.length ? `(${parts.join(' and ')})` : null;
}

/** Whether the filter holds for one element; undefined when it names something the schema does not describe. */
function holds(node: FilterNode, element: JsonObject, def: AttrDef): boolean | undefined {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const l = holds(node.left, element, def);
      const r = holds(node.right, element, def);
      if (l === undefined || r === undefined) return undefined;
      return node.kind === 'and' ? l && r : l || r;
    }
    case 'not': {
      const inner = holds(node.expr, element, def);
      return inner === undefined ? undefined : !inner;
    }
    case 'valuePath':
      return undefined;
    default: {
      const sub = findAttr(def.subAttributes, node.path);
      if (!sub) return undefined;
      const v = element[sub.name];
      if (node.kind === 'present') return v !== undefined && v !== null && v !== '';
      return compare(v, node.op, node.value, sub);
    }
  }
}

function compare(actual: Json | undefined, op: string, wanted: Json, sub: AttrDef): boolean {
  if (actual === undefined || actual === null) return op === 'ne' && wanted !== null;
  if (typeof actual === 'string' && typeof wanted === 'string') {
    const a = sub.caseExact ? actual : actual.toLowerCase();
    const w = sub.caseExact ? wanted : wanted.toLowerCase();
    switch (op) {
      case 'eq': return a === w;
      case 'ne': return a !== w;
      case 'co': return a.includes(w);
      case 'sw': return a.startsWith(w);
      case 'ew': return a.endsWith(w);
      case 'gt': return a > w;
      case 'ge': return a >= w;
      case 'lt': return a < w;
      case 'le': return a <= w;
      default: return false;
    }
  }
  if (op === 'eq') return actual === wanted;
  if (op === 'ne') return actual !== wanted;
  if (typeof actual === 'number' && typeof wanted === 'number') {
    return op === 'gt' ? actual > wanted : op === 'ge' ? actual >= wanted : op === 'lt' ? actual < wanted : op === 'le' ? actual <= wanted : false;
  }
  return false;
}
