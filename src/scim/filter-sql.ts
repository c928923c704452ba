import type { CompareOp, FilterNode } from './filter-parse.js';
import { resolvePath, type ResourceKind } from './resource-kinds.js';
import { scimBadRequest } from './scim-error.js';
import { columnOf, membershipAttr, type Column } from './filter-columns.js';
import { findAttr, type AttrDef } from './schema-defs.js';

/**
 * Compiles a filter AST to a parameterised SQL condition over the resource table aliased `r`. Values only ever
 * travel as positional parameters; identifiers come from our schema definitions, never from the request.
 * `params[0]` is the tenant id, bound by the caller.
 */
export class FilterCompiler {
  readonly params: string[];
  #elements = 0;

  constructor(
    private readonly kind: ResourceKind,
    tenantId: string,
  ) {
    this.params = [tenantId];
  }

  param(v: string, cast: string): string {
    this.params.push(v);
    return `$${this.params.length}::${cast}`;
  }

  compile(node: FilterNode, scope: Scope | null = null): string {
    switch (node.kind) {
      case 'and':
      case 'or':
        return `(${this.compile(node.left, scope)} ${node.kind.toUpperCase()} ${this.compile(node.right, scope)})`;
      case 'not':
        // SQL is three-valued: a comparison with a missing attribute is NULL. Positive conditions stay bare (so the
        // planner can use indexes; NULL filters the row out) and NOT folds NULL to "did not match" first.
        return `(NOT COALESCE(${this.compile(node.expr, scope)}, false))`;
      case 'valuePath':
        return this.#valuePath(node.path, node.filter, scope);
      default:
        return scope ? this.#elementLeaf(node, scope) : this.#resourceLeaf(node);
    }
  }

  #valuePath(path: string, filter: FilterNode, scope: Scope | null): string {
    if (scope) throw invalid('Value filters cannot be nested');
    const p = resolvePath(this.kind, path);
    // User.groups / Group.members live in GroupMembership, not in the stored document: the filter holds for one row.
    if (p && !p.custom && !p.sub && membershipAttr(this.kind, p.name)) {
      const { mine, other } = this.#membershipSides();
      return `EXISTS (SELECT 1 FROM "GroupMembership" gm WHERE gm."tenantId" = $1 AND gm."${mine}" = r."id" AND ${this.#membershipElement(filter, other, p.name)})`;
    }
    if (!p || p.custom || !p.attr || p.sub || p.attr.type !== 'complex' || columnOf(this.kind, p.name, null)) {
      throw invalid(`Cannot apply a value filter to "${path}"`);
    }
    const json = jsonOf(p.urn, p.name);
    if (!p.attr.multiValued) return this.compile(filter, { json, def: p.attr });
    const e = `e${++this.#elements}`;
    const inner = this.compile(filter, { json: `${e}.v`, def: p.attr });
    return `EXISTS (SELECT 1 FROM jsonb_array_elements(${arrayOf(json)}) AS ${e}(v) WHERE ${inner})`;
  }

  #elementLeaf(node: Leaf, scope: Scope): string {
    const sub = findAttr(scope.def.subAttributes, node.path);
    if (!sub) throw invalid(`Unknown sub-attribute "${node.path}" of ${scope.def.name}`);
    return this.#jsonLeaf(node, `${scope.json}->'${sub.name}'`, sub);
  }

  #resourceLeaf(node: Leaf): string {
    const p = resolvePath(this.kind, node.path);
    if (!p) throw invalid(`Unknown attribute "${node.path}"`);
    const column = columnOf(this.kind, p.name, p.subName);
    if (column && !p.urn) return this.#columnLeaf(node, column);
    if (p.custom) {
      const json = `r."attributes"->${this.param(p.urn!, 'text')}->${this.param(p.name, 'text')}`;
      const path = p.subName ? `${json}->${this.param(p.subName, 'text')}` : json;
      return this.#jsonLeaf(node, path, customDef);
    }
    const attr = p.attr!;
    const json = jsonOf(p.urn, p.name);
    if (membershipAttr(this.kind, p.name)) return this.#membershipLeaf(node, p.subName);
    if (attr.type !== 'complex') return this.#jsonLeaf(node, json, attr);
    // A multi-valued attribute without a sub-attribute filters on its `value` (RFC 7644 §3.4.2.2).
    const sub = p.sub ?? (attr.multiValued ? findAttr(attr.subAttributes, 'value')! : null);
    if (!sub) {
      if (node.kind === 'present') return presentJson(json);
      throw invalid(`"${node.path}" is complex; name a sub-attribute`);
    }
    if (!attr.multiValued) return this.#jsonLeaf(node, `${json}->'${sub.name}'`, sub);
    const e = `e${++this.#elements}`;
    const inner = this.#jsonLeaf(node, `${e}.v->'${sub.name}'`, sub);
    return `EXISTS (SELECT 1 FROM jsonb_array_elements(${arrayOf(json)}) AS ${e}(v) WHERE ${inner})`;
  }

  #membershipSides() {
    return this.kind.name === 'User' ? { mine: 'userId', other: 'groupId' } : { mine: 'groupId', other: 'userId' };
  }

  /** The condition of `members[…]` / `groups[…]` on one GroupMembership row `gm`: `value` (the other side's id) only. */
  #membershipElement(node: FilterNode, other: string, attr: string): string {
    switch (node.kind) {
      case 'and':
      case 'or':
        return `(${this.#membershipElement(node.left, other, attr)} ${node.kind.toUpperCase()} ${this.#membershipElement(node.right, other, attr)})`;
      case 'not':
        return `(NOT ${this.#membershipElement(node.expr, other, attr)})`;
      case 'valuePath':
        throw invalid('Value filters cannot be nested');
      default:
        if (node.path.toLowerCase() !== 'value') throw invalid(`Only ${attr}.value can be filtered`);
        if (node.kind === 'present') return 'TRUE';
        if (typeof node.value !== 'string' || (node.op !== 'eq' && node.op !== 'ne')) throw invalid('Membership filters support eq, ne and pr with a string id');
        return `(gm."${other}" ${node.op === 'eq' ? '=' : '<>'} ${this.param(node.value, 'text')})`;
    }
  }

  /** User.groups / Group.members live in GroupMembership; `value` (the other side's id) supports eq, ne, pr. */
  #membershipLeaf(node: Leaf, sub: string | null): string {
    if (sub !== null && sub !== 'value') throw invalid(`Only ${node.path.split('.')[0]}.value can be filtered`);
    const { mine, other } = this.#membershipSides();
    const base = `SELECT 1 FROM "GroupMembership" gm WHERE gm."tenantId" = $1 AND gm."${mine}" = r."id"`;
    if (node.kind === 'present') return `EXISTS (${base})`;
    if (typeof node.value !== 'string' || (node.op !== 'eq' && node.op !== 'ne')) {
      throw invalid('Membership filters support eq, ne and pr with a string id');
    }
    const hit = `EXISTS (${base} AND gm."${other}" = ${this.param(node.value, 'text')})`;
    return node.op === 'eq' ? hit : `(NOT ${hit})`; // EXISTS is never NULL
  }

  #columnLeaf(node: Leaf, col: Column): string {
    if (node.kind === 'present') return col.type === 'text' ? `(r."${col.name}" IS NOT NULL AND r."${col.name}" <> '')` : 'TRUE';
    const { op, value } = node;
    if (op === 'ne') return `(NOT COALESCE(${this.#columnLeaf({ ...node, op: 'eq' }, col)}, false))`;
    if (col.type === 'boolean') {
      if (op !== 'eq' || typeof value !== 'boolean') throw invalid(`${node.path} supports only eq/ne with true or false`);
      return `(r."${col.name}" = ${this.param(String(value), 'boolean')})`;
    }
    if (typeof value !== 'string') throw invalid(`${node.path} compares with a string`);
    if (col.type === 'timestamp') {
      if (!['eq', 'gt', 'ge', 'lt', 'le'].includes(op) || Number.isNaN(Date.parse(value))) {
        throw invalid(`${node.path} compares with an RFC 3339 date-time using eq, gt, ge, lt or le`);
      }
      const v = this.param(new Date(value).toISOString(), 'timestamptz');
      return `(r."${col.name}" ${sqlOps[op]} (${v} AT TIME ZONE 'UTC'))`;
    }
    // `lowered` columns already hold lower(value): the eq form uses the unique index directly.
    const lhs = col.lowered ? `r."${col.name}"` : col.caseExact ? `r."${col.name}"` : `lower(r."${col.name}")`;
    return this.#textCompare(lhs, op, value, col.lowered ? 'js' : col.caseExact ? 'none' : 'db');
  }

  #jsonLeaf(node: Leaf, json: string, def: AttrDef): string {
    if (node.kind === 'present') return presentJson(json);
    const { op, value } = node;
    if (op === 'ne') return `(NOT COALESCE(${this.#jsonLeaf({ ...node, op: 'eq' }, json, def)}, false))`;
    if (def.type === 'boolean' || typeof value === 'boolean' || typeof value === 'number') {
      if (op !== 'eq' || value === null || (def.type === 'boolean' && typeof value !== 'boolean')) {
        throw invalid(`${node.path} supports only eq/ne with a ${def.type === 'boolean' ? 'boolean' : 'matching'} value`);
      }
      return `(${json} = ${this.param(JSON.stringify(value), 'jsonb')})`;
    }
    if (typeof value !== 'string') throw invalid(`${node.path} cannot be compared with null; use pr`);
    if (def.type === 'dateTime' || def.type === 'binary') throw invalid(`${node.path} cannot be filtered`);
    const text = `(${json} #>> '{}')`;
    return this.#textCompare(def.caseExact ? text : `lower${text}`, op, value, def.caseExact ? 'none' : 'db');
  }

  /**
   * `fold`: how the value is lower-cased to match `lhs` — 'js' for columns that store a JS-lower-cased key
   * (userNameKey, displayNameKey), 'db' where `lhs` is PostgreSQL's lower() (same function on both sides, also for
   * non-ASCII), 'none' for case-exact attributes.
   */
  #textCompare(lhs: string, op: CompareOp, value: string, fold: 'js' | 'db' | 'none'): string {
    const v = fold === 'js' ? value.toLowerCase() : value;
    const bind = (x: string) => (fold === 'db' ? `lower(${this.param(x, 'text')})` : this.param(x, 'text'));
    const like = (pattern: string) => `(${lhs} LIKE ${bind(pattern)} ESCAPE '\\')`;
    const esc = v.replace(/[\\%_]/g, (m) => `\\${m}`);
    switch (op) {
      case 'co':
        return like(`%${esc}%`);
      case 'sw':
        return like(`${esc}%`);
      case 'ew':
        return like(`%${esc}`);
      case 'eq':
        return `(${lhs} = ${bind(v)})`;
      default:
        // Byte order, so ordering comparisons answer the same on every database whatever its collation.
        return `(${lhs} COLLATE "C" ${sqlOps[op]} ${bind(v)} COLLATE "C")`;
    }
  }
}

type Leaf = Extract<FilterNode, { kind: 'compare' | 'present' }>;
interface Scope {
  json: string;
  def: AttrDef;
}

const sqlOps: Record<string, string> = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' };
const invalid = (detail: string) => scimBadRequest('invalidFilter', detail);
const customDef: AttrDef = { name: 'custom', type: 'string', multiValued: false, description: '', required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none' };

function jsonOf(urn: string | null, name: string): string {
  // Names come from our schema definitions (never from the request), so they can be inlined safely.
  return urn ? `r."attributes"->'${urn}'->'${name}'` : `r."attributes"->'${name}'`;
}

const arrayOf = (json: string) => `CASE WHEN jsonb_typeof(${json}) = 'array' THEN ${json} ELSE '[]'::jsonb END`;

const presentJson = (json: string) =>
  `COALESCE(jsonb_typeof(${json}) <> 'null' AND ${json} NOT IN ('""'::jsonb, '[]'::jsonb, '{}'::jsonb), false)`;
