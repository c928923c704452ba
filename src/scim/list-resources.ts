import type { JsonObject } from './canonicalize.js';
import { MAX_PAGE_SIZE } from './discovery.js';
import { parseFilter } from './filter-parse.js';
import { FilterCompiler } from './filter-sql.js';
import { renderGroups } from './group-resource.js';
import { projectResource, projectionOf, type Projection } from './project-attributes.js';
import type { ResourceKind } from './resource-kinds.js';
import type { ScimCtx } from './scim-context.js';
import { scimBadRequest } from './scim-error.js';
import { listResponse } from './scim-response.js';
import { orderByOf, STABLE_ORDER } from './sort-order.js';
import { renderUser, type GroupRef } from './user-resource.js';
import { json, USER_GROUPS, userRowOf } from './user-statements.js';
import { hotQuery, statement, type Statement } from '../db/hot-sql.js';

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
 * A filtered, paginated list evaluated in the database: the filter compiles to SQL and only the page's rows come
 * back (never a tenant's users loaded into memory). Order is stable (creation time, then id) so IdPs can page.
 */
export async function listResources(c: ScimCtx, kind: ResourceKind, query: Record<string, unknown>) {
  const { startIndex, count } = pageOf(query);
  if (query.filter !== undefined && typeof query.filter !== 'string') throw scimBadRequest('invalidFilter', 'One filter, please');
  const compiler = new FilterCompiler(kind, c.t.id);
  const filter = typeof query.filter === 'string' && query.filter.trim() !== '' ? parseFilter(query.filter) : null;
  // Groups created from SSO assertions are not SCIM resources (see scimGroups in group-store.ts).
  const scope = kind.name === 'Group' ? ` AND r."source" <> 'idp'` : '';
  const where = `r."tenantId" = $1${scope}${filter ? ` AND ${compiler.compile(filter)}` : ''}`;
  const params = compiler.params;
  const projection = projectionOf(query);
  let total: number | null = null;
  let resources: JsonObject[] = [];
  if (count > 0) {
    const page = { where, orderBy: orderByOf(kind, query), limit: count, offset: startIndex - 1 };
    const result = kind.name === 'User' ? await userPage(c, page, params) : await groupPage(c, page, params, projection);
    resources = result.resources;
    total = result.total;
  }
  // An empty first page means nothing matches (Entra's "does this user exist?" filter): no count query for that.
  if (total === null && count > 0 && startIndex === 1) total = 0;
  // An empty page (count=0, or startIndex past the end) still reports how many resources match.
  total ??= await countOf(c, kind.name === 'User' ? '"User"' : '"Group"', where, params);
  return listResponse(
    resources.map((r) => projectResource(kind, r, projection)),
    total,
    startIndex,
  );
}

interface Page {
  where: string;
  orderBy: string;
  limit: number;
  offset: number;
}

async function countOf(c: ScimCtx, table: string, where: string, params: string[]): Promise<number> {
  const rows = (await c.t.db.$queryRawUnsafe(`SELECT count(*)::int AS n FROM ${table} r WHERE ${where}`, ...params)) as { n: number }[];
  return Number(rows[0]?.n ?? 0);
}

/** The SELECT of a user page; `limit`/`offset` are parameter placeholders or integers we parsed. */
const userPageSql = (where: string, orderBy: string, limit: string, offset: string) => `SELECT r."id", r."userName", r."externalId",
      r."active", r."attributes", r."version",
      r."createdAt" AT TIME ZONE 'UTC' AS "createdAt", r."updatedAt" AT TIME ZONE 'UTC' AS "updatedAt",
      count(*) OVER ()::int AS "total", ${USER_GROUPS} AS "groups"
    FROM "User" r WHERE ${where} ORDER BY ${orderBy} LIMIT ${limit} OFFSET ${offset}`;

/**
 * The pages IdPs ask for on every provisioning cycle (Entra's and Okta's "does this user exist?": `userName eq` and
 * `externalId eq`, default order) as prepared statements on the driver (hot-sql.ts), keyed by the exact condition and
 * order the filter compiler produced, so any other filter or order takes the general path below with the same SQL.
 * Page bounds are parameters here ($3 LIMIT, $4 OFFSET); $1 is the tenant, $2 the compared value.
 */
const HOT_USER_PAGES = new Map<string, Statement>(
  [
    ['user_name', 'r."tenantId" = $1 AND (r."userNameKey" = $2::text)'],
    ['external_id', 'r."tenantId" = $1 AND (r."externalId" = $2::text)'],
  ].map(([name, where]) => [`${where}\n${STABLE_ORDER}`, statement(`scim_user_page_${name}`, userPageSql(where!, STABLE_ORDER, '$3::int', '$4::int'))]),
);

/**
 * One round trip for a page of users: the rows, their groups (from memberships) and the total match count (a window
 * over the filtered rows, computed before LIMIT). LIMIT/OFFSET are integers we parsed; everything else is bound.
 */
async function userPage(c: ScimCtx, page: Page, params: string[]) {
  const hot = HOT_USER_PAGES.get(`${page.where}\n${page.orderBy}`);
  const rows = hot
    ? await hotQuery<Record<string, unknown>>(c.t.db, hot, [...params, page.limit, page.offset])
    : ((await c.t.db.$queryRawUnsafe(userPageSql(page.where, page.orderBy, String(page.limit), String(page.offset)), ...params)) as Record<string, unknown>[]);
  const resources = rows.map((r) => renderUser(c, userRowOf(r), json(r.groups) as GroupRef[]));
  return { resources, total: rows.length ? Number(rows[0]!.total) : null };
}

async function groupPage(c: ScimCtx, page: Page, params: string[], projection: Projection) {
  const sql = `SELECT r."id", count(*) OVER ()::int AS "total" FROM "Group" r WHERE ${page.where}
    ORDER BY ${page.orderBy} LIMIT ${page.limit} OFFSET ${page.offset}`;
  const rows = (await c.t.db.$queryRawUnsafe(sql, ...params)) as { id: string; total: number }[];
  const resources = await renderGroups(
    c,
    rows.map((r) => r.id),
    projection,
  );
  return { resources, total: rows.length ? Number(rows[0]!.total) : null };
}

/**
 * POST /.search (RFC 7644 §3.4.3): the same query as GET, carried in a SearchRequest body (keeps long filters and
 * personal data out of URLs and logs).
 */
export function searchQuery(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw scimBadRequest('invalidSyntax', 'Expected a SearchRequest object');
  const b = body as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string').join(',') : v);
  const num = (v: unknown) => (typeof v === 'number' ? String(v) : v);
  return {
    filter: b.filter,
    sortBy: b.sortBy,
    sortOrder: b.sortOrder,
    attributes: list(b.attributes),
    excludedAttributes: list(b.excludedAttributes),
    startIndex: num(b.startIndex),
    count: num(b.count),
  };
}
