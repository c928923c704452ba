import { hotQuery, statement } from '../db/hot-sql.js';
import type { AuditRow } from '../audit/audit-log.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { JsonObject } from './canonicalize.js';
import type { GroupRef, UserRow, userColumns } from './user-resource.js';

export interface NewScimUser {
  id: string;
  cols: ReturnType<typeof userColumns>;
  doc: JsonObject;
  now: Date;
  /** The SCIM token that provisions the user: its IdP connection (read in the same statement) links new users. */
  scimTokenId: string | null;
}

export interface ScimUserInsert {
  user: NewScimUser;
  audit: AuditRow;
}

/**
 * SCIM creates of ONE tenant as ONE statement (decision 0034, group commit of decision 0032's statement): the user rows,
 * the provisioning token's connection and the audit events of the rows actually inserted, appended to the tenant's
 * chain by one audit_append. One statement is one implicit transaction, so a process killed half-way leaves neither a
 * user without its event nor an event without its user, and the chain head's row lock is taken once per batch instead
 * of once per create: concurrent creates of a tenant share its lock and its commit (WAL flush).
 * A userName already taken (case-insensitively: the unique index on userNameKey) is skipped by ON CONFLICT and has no
 * event; the caller answers it 409. Callers must not put two rows with the same userNameKey in one batch (the first
 * would win silently; src/scim/user-create-batch.ts defers the second to the next batch instead).
 * Resolves with the ids inserted. Raw SQL bypasses the tenant-scoped client: the tenant id is bound from the tenant,
 * never from the request.
 */
export async function insertScimUsers(t: TenantCtx, items: ScimUserInsert[]): Promise<Set<string>> {
  const input = items.map(({ user: u, audit }, n) => ({
    n,
    id: u.id,
    userName: u.cols.userName,
    userNameKey: u.cols.userNameKey,
    externalId: u.cols.externalId,
    active: u.cols.active,
    displayName: u.cols.displayName,
    email: u.cols.email,
    scimTokenId: u.scimTokenId,
    attributes: u.doc,
    at: u.now.toISOString(),
    audit,
  }));
  const rows = await hotQuery<{ ids: string[] | null; appended: number }>(t.db, INSERT_USERS, [t.id, JSON.stringify(input)]);
  return new Set(rows[0]?.ids ?? []);
}

/** $1 = the tenant (bound to every table), $2 = the batch as a JSON array (see insertScimUsers). */
const INSERT_USERS = statement(
  'scim_insert_users',
  `WITH x AS (
      SELECT * FROM jsonb_to_recordset($2::jsonb) AS r("n" int, "id" text, "userName" text,
        "userNameKey" text, "externalId" text, "active" boolean, "displayName" text, "email" text, "scimTokenId" text,
        "attributes" jsonb, "at" timestamp(3), "audit" jsonb)),
    u AS (
      INSERT INTO "User" ("id", "tenantId", "userName", "userNameKey", "externalId", "active", "displayName", "email",
          "source", "ssoConnectionId", "attributes", "createdAt", "updatedAt")
        SELECT x."id", $1::text, x."userName", x."userNameKey", x."externalId", x."active", x."displayName", x."email",
          'scim'::"UserSource",
          (SELECT s."connectionId" FROM "ScimToken" s WHERE s."id" = x."scimTokenId" AND s."tenantId" = $1::text),
          x."attributes", x."at", x."at"
        FROM x ORDER BY x."n"
        ON CONFLICT ("tenantId", "userNameKey") DO NOTHING
        RETURNING "id"),
    events AS (SELECT jsonb_agg(x."audit" ORDER BY x."n") AS "rows" FROM x JOIN u ON u."id" = x."id"),
    a AS MATERIALIZED (SELECT audit_append($1::text, e."rows") FROM events e WHERE e."rows" IS NOT NULL)
    SELECT (SELECT array_agg(u."id") FROM u) AS "ids", (SELECT count(*) FROM a)::int AS "appended"`,
);

export interface UserUpdate {
  id: string;
  /** The version read before the change: a concurrent write bumped it and this one then matches no row. */
  version: number;
  cols: ReturnType<typeof userColumns>;
  doc: JsonObject;
  now: Date;
  /** A deactivation's revocation start (RevocationHub.stamp), written in the same UPDATE. */
  stamp?: { revokedBefore: Date; pendingRevocation: unknown } | undefined;
}

/** A notification sent by the statement itself, so it goes out exactly when the write commits (EventBus.inStatement). */
export interface StatementNotify {
  channel: string;
  payload: string;
}

/** The user as written by {@link updateScimUser}, with its SCIM groups: what the response renders, without a re-read. */
export interface UpdatedUser {
  row: UserRow;
  groups: GroupRef[];
}

/**
 * PUT and PATCH as ONE statement, like {@link insertScimUsers}: the versioned UPDATE and, only if it matched a row, the
 * audit event and (when given) the bus notification, returning the row as written and its groups. Resolves with null
 * when a concurrent write won (the version moved). An interactive transaction here failed PATCHes with a 500 under a
 * burst (Prisma gives up waiting for a transaction after 2 s; docs/benchmarks.md). The notification in the same
 * transaction saves the separate `pg_notify` round trip and its commit (each NOTIFY commit takes PostgreSQL's
 * cluster-wide notify lock and flushes the WAL), and is sent if and only if the change is committed.
 */
export async function updateScimUser(t: TenantCtx, u: UserUpdate, audit: AuditRow, notify?: StatementNotify): Promise<UpdatedUser | null> {
  const { cols, stamp } = u;
  const params: unknown[] = [
    t.id,
    u.id,
    u.version,
    cols.userName,
    cols.userNameKey,
    cols.externalId,
    cols.active,
    cols.displayName,
    cols.email,
    JSON.stringify(u.doc),
    u.now.toISOString(),
    stamp !== undefined,
    stamp ? stamp.revokedBefore.toISOString() : null,
    stamp ? JSON.stringify(stamp.pendingRevocation) : null,
    JSON.stringify([audit]),
  ];
  const rows = notify
    ? await hotQuery<Record<string, unknown>>(t.db, UPDATE_USER_NOTIFY, [...params, notify.channel, notify.payload])
    : await hotQuery<Record<string, unknown>>(t.db, UPDATE_USER, params);
  const r = rows[0];
  return r ? { row: userRowOf(r), groups: groupsOf(r) } : null;
}

/** The columns a SCIM user is rendered from (`r` = the User row), timestamps as UTC instants. */
const USER_COLUMNS = `r."id", r."userName", r."externalId", r."active", r."attributes", r."version",
  r."createdAt" AT TIME ZONE 'UTC' AS "createdAt", r."updatedAt" AT TIME ZONE 'UTC' AS "updatedAt", r."pendingRevocation"`;

/** The user's SCIM groups (SSO-asserted groups are not SCIM resources) as a JSON array, in group id order; $1 = tenant. */
export const USER_GROUPS = `(SELECT COALESCE(json_agg(json_build_object('groupId', gm."groupId",
    'displayName', g."displayName") ORDER BY gm."groupId"), '[]'::json)
  FROM "GroupMembership" gm JOIN "Group" g ON g."id" = gm."groupId"
  WHERE gm."tenantId" = $1::text AND gm."userId" = r."id" AND g."source" <> 'idp')`;

/**
 * $1 tenant, $2 id, $3 version read, $4–$9 the indexed columns, $10 document, $11 now, $12 stamped, $13–$14 the
 * revocation stamp, $15 the audit rows; with a notification, $16 channel and $17 payload (pg_notify in the same
 * statement: sent if and only if the write commits).
 */
const updateUserSql = (notifying: boolean) => `WITH u AS (
      UPDATE "User" SET "userName" = $4::text, "userNameKey" = $5::text, "externalId" = $6::text,
          "active" = $7::boolean, "displayName" = $8::text, "email" = $9::text,
          "attributes" = $10::jsonb, "version" = "version" + 1, "updatedAt" = $11::timestamp(3),
          "revokedBefore" = CASE WHEN $12::boolean THEN $13::timestamp(3) ELSE "revokedBefore" END,
          "pendingRevocation" = CASE WHEN $12::boolean THEN $14::jsonb ELSE "pendingRevocation" END
        WHERE "tenantId" = $1::text AND "id" = $2::text AND "version" = $3::int
        RETURNING *)
    SELECT ${USER_COLUMNS}, ${USER_GROUPS} AS "groups"
      FROM u r, LATERAL audit_append($1::text, $15::jsonb) AS a${notifying ? ', LATERAL pg_notify($16::text, $17::text) AS n' : ''}`;

const UPDATE_USER = statement('scim_update_user', updateUserSql(false));
const UPDATE_USER_NOTIFY = statement('scim_update_user_notify', updateUserSql(true));

/** $1 tenant, $2 user id. */
const SELECT_USER = statement('scim_select_user', `SELECT ${USER_COLUMNS}, ${USER_GROUPS} AS "groups" FROM "User" r WHERE r."tenantId" = $1::text AND r."id" = $2::text`);

/** A user and its SCIM groups in one round trip (PATCH's read, GET by id); null when there is no such user. */
export async function selectScimUser(t: TenantCtx, id: string): Promise<UpdatedUser | null> {
  const r = (await hotQuery<Record<string, unknown>>(t.db, SELECT_USER, [t.id, id]))[0];
  return r ? { row: userRowOf(r), groups: groupsOf(r) } : null;
}

/** Drivers hand jsonb/json back parsed or as text, and timestamps as Date or text: accept both. */
/** A json/jsonb column of a raw row: PGlite returns it parsed, pg as text in some positions. */
export const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

/** A User row of a raw query (the list page's too: list-resources.ts). */
export function userRowOf(r: Record<string, unknown>): UserRow {
  return {
    id: String(r.id),
    userName: String(r.userName),
    externalId: r.externalId === null ? null : String(r.externalId),
    active: r.active === true,
    attributes: json(r.attributes),
    version: Number(r.version),
    createdAt: date(r.createdAt),
    updatedAt: date(r.updatedAt),
    pendingRevocation: r.pendingRevocation === null || r.pendingRevocation === undefined ? null : json(r.pendingRevocation),
  };
}

const groupsOf = (r: Record<string, unknown>) => json(r.groups) as GroupRef[];
