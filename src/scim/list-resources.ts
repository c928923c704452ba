import type { JsonObject } from './canonicalize.js';
import { MAX_PAGE_SIZE } from './discovery.js';
import { parseFilter } from './filter-parse.js';
import { FilterCompiler } from './filter-sql.js';
import { renderGroups } from './group-resource.js';
import { projectResource, projectionOf } from './project-attributes.js';
import type { ResourceKind } from './resource-kinds.js';
import type { ScimCtx } from './scim-context.js';
import { scimBadRequest } from './scim-error.js';
import { listResponse } from './scim-response.js';
import { groupsOfUsers, renderUser } from './user-resource.js';

/** startIndex/count (RFC 7644 §3.4.2.4): integers; below 1 means 1, negative count means 0, count is capped. */
export function pageOf(query: Record<string, unknown>): { startIndex: number; count: number } {
  const int = (name: string, fallback: number) => {
    const v = query[name];
    if (v === undefined || v === '') return fallback;
    if (typeof v !== 'string' || !/^-?\d{1,9}$/.test(v.trim())) throw scimBadRequest('invalidValue', `${name} must be an integer`);
    return Number(v);
  };
  const startIndex = Math.max(1, int('startIndex', 1));
  const count = Math.min(MAX_PAGE_SIZE, Math.max(0, int('count', MAX_PAGE_SIZE)));
  return { startIndex, count };
}

/**
 * A filtered, paginated list evaluated in the database: the filter compiles to SQL, only the page's ids come
 * back, then those rows are rendered. Order is stable (creation time, then id) so IdPs can page through.
 */
export async function listResources(c: ScimCtx, kind: ResourceKind, query: Record<string, unknown>) {
  const { startIndex, count } = pageOf(query);
  if (query.filter !== undefined && typeof query.filter !== 'string') throw scimBadRequest('invalidFilter', 'One filter, please');
  const compiler = new FilterCompiler(kind, c.t.id);
  const filter = typeof query.filter === 'string' && query.filter.trim() !== '' ? parseFilter(query.filter) : null;
  const where = `r."tenantId" = $1${filter ? ` AND ${compiler.compile(filter)}` : ''}`;
  const table = kind.name === 'User' ? '"User"' : '"Group"';
  const params = compiler.params;
  const [{ n: total }] = (await c.t.db.$queryRawUnsafe(`SELECT count(*)::int AS n FROM ${table} r WHERE ${where}`, ...params)) as [
    { n: number },
  ];
  let resources: JsonObject[] = [];
  if (count > 0 && total >= startIndex) {
    const sql = `SELECT r."id" FROM ${table} r WHERE ${where} ORDER BY r."createdAt", r."id" LIMIT ${count} OFFSET ${startIndex - 1}`;
    const ids = ((await c.t.db.$queryRawUnsafe(sql, ...params)) as { id: string }[]).map((x) => x.id);
    resources = kind.name === 'User' ? await renderUsers(c, ids) : await renderGroups(c, ids, projectionOf(query));
  }
  const projection = projectionOf(query);
  return listResponse(
    resources.map((r) => projectResource(kind, r, projection)),
    total,
    startIndex,
  );
}

async function renderUsers(c: ScimCtx, ids: string[]): Promise<JsonObject[]> {
  const rows = await c.t.db.user.findMany({ where: { id: { in: ids } } });
  const groups = await groupsOfUsers(c, ids);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [renderUser(c, row, groups.get(id) ?? [])] : [];
  });
}
