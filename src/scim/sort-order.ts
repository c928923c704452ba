import { columnOf, membershipAttr } from './filter-columns.js';
import { resolvePath, type ResourceKind } from './resource-kinds.js';
import { scimBadRequest } from './scim-error.js';
import { findAttr } from './schema-defs.js';

/** Stable tie-breakers: IdPs page through results, so equal sort keys must keep one order between requests. */
export const STABLE_ORDER = 'r."createdAt", r."id"';
const STABLE = STABLE_ORDER;

/**
 * ORDER BY for `sortBy`/`sortOrder` (RFC 7644 §3.4.2.3). Identifiers come from our schema definitions, never from
 * the request. Strings sort case-insensitively (caseExact=false) in byte order; missing values sort last; a
 * multi-valued attribute sorts by its primary value. Without sortBy: creation time, then id.
 */
export function orderByOf(kind: ResourceKind, query: Record<string, unknown>): string {
  const sortBy = query.sortBy;
  const sortOrder = query.sortOrder;
  if (sortOrder !== undefined && !(typeof sortOrder === 'string' && /^(ascending|descending)$/i.test(sortOrder))) {
    throw scimBadRequest('invalidValue', 'sortOrder must be ascending or descending');
  }
  if (sortBy === undefined || sortBy === '') return STABLE;
  if (typeof sortBy !== 'string') throw scimBadRequest('invalidValue', 'sortBy must be one attribute path');
  const p = resolvePath(kind, sortBy);
  if (!p || p.custom || !p.attr || membershipAttr(kind, p.name)) throw scimBadRequest('invalidValue', `Cannot sort by "${sortBy}"`);
  const dir = typeof sortOrder === 'string' && sortOrder.toLowerCase() === 'descending' ? 'DESC' : 'ASC';
  let expr: string;
  const column = p.urn ? null : columnOf(kind, p.name, p.subName);
  if (column) {
    expr = column.type === 'text' && !column.caseExact && !column.lowered ? `lower(r."${column.name}")` : `r."${column.name}"`;
    if (column.type === 'text') expr += ' COLLATE "C"';
  } else {
    const base = p.urn ? `r."attributes"->'${p.urn}'->'${p.name}'` : `r."attributes"->'${p.name}'`;
    let json = base;
    let def = p.sub ?? p.attr;
    if (p.attr.multiValued) {
      def = p.sub ?? findAttr(p.attr.subAttributes, 'value')!;
      json = `(SELECT e.v->'${def.name}' FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${base}) = 'array' THEN ${base} ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n) ORDER BY (e.v->'primary') = 'true'::jsonb DESC NULLS LAST, e.n LIMIT 1)`;
    } else if (p.sub) json = `${base}->'${p.sub.name}'`;
    if (def.type === 'complex') throw scimBadRequest('invalidValue', `Cannot sort by the complex attribute "${sortBy}"`);
    expr = `(${json} #>> '{}')`;
    expr = def.caseExact ? `${expr} COLLATE "C"` : `lower${expr} COLLATE "C"`;
  }
  return `${expr} ${dir} NULLS LAST, ${STABLE}`;
}
