import { Prisma } from '../generated/prisma/client.js';
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
  const rows = await t.db.$queryRaw<{ ids: string[] | null; appended: number }[]>`
    WITH x AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS r("n" int, "id" text, "userName" text,
        "userNameKey" text, "externalId" text, "active" boolean, "displayName" text, "email" text, "scimTokenId" text,
        "attributes" jsonb, "at" timestamp(3), "audit" jsonb)),
    u AS (
      INSERT INTO "User" ("id", "tenantId", "userName", "userNameKey", "externalId", "active", "displayName", "email",
          "source", "ssoConnectionId", "attributes", "createdAt", "updatedAt")
        SELECT x."id", ${t.id}, x."userName", x."userNameKey", x."externalId", x."active", x."displayName", x."email",
          'scim'::"UserSource",
          (SELECT s."connectionId" FROM "ScimToken" s WHERE s."id" = x."scimTokenId" AND s."tenantId" = ${t.id}),
          x."attributes", x."at", x."at"
        FROM x ORDER BY x."n"
        ON CONFLICT ("tenantId", "userNameKey") DO NOTHING
        RETURNING "id"),
    events AS (SELECT jsonb_agg(x."audit" ORDER BY x."n") AS "rows" FROM x JOIN u ON u."id" = x."id"),
    a AS MATERIALIZED (SELECT audit_append(${t.id}, e."rows") FROM events e WHERE e."rows" IS NOT NULL)
    SELECT (SELECT array_agg(u."id") FROM u) AS "ids", (SELECT count(*) FROM a)::int AS "appended"`;
  return new Set(rows[0]?.ids ?? []);
}

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
  const { cols } = u;
  const stamped = u.stamp !== undefined;
  const notifying = notify ? Prisma.sql`, LATERAL pg_notify(${notify.channel}, ${notify.payload}) AS n` : Prisma.empty;
  const rows = await t.db.$queryRaw<Record<string, unknown>[]>`
    WITH u AS (
      UPDATE "User" SET "userName" = ${cols.userName}, "userNameKey" = ${cols.userNameKey}, "externalId" = ${cols.externalId},
          "active" = ${cols.active}, "displayName" = ${cols.displayName}, "email" = ${cols.email},
          "attributes" = ${JSON.stringify(u.doc)}::jsonb, "version" = "version" + 1, "updatedAt" = ${u.now.toISOString()}::timestamp(3),
          "revokedBefore" = CASE WHEN ${stamped} THEN ${u.stamp?.revokedBefore.toISOString() ?? null}::timestamp(3) ELSE "revokedBefore" END,
          "pendingRevocation" = CASE WHEN ${stamped} THEN ${stamped ? JSON.stringify(u.stamp!.pendingRevocation) : null}::jsonb ELSE "pendingRevocation" END
        WHERE "tenantId" = ${t.id} AND "id" = ${u.id} AND "version" = ${u.version}
        RETURNING *)
    SELECT ${userColumnsSql}, ${userGroupsSql(t.id)} AS "groups"
      FROM u r, LATERAL audit_append(${t.id}, ${JSON.stringify([audit])}::jsonb) AS a${notifying}`;
  const r = rows[0];
  return r ? { row: userRowOf(r), groups: groupsOf(r) } : null;
}

/** The columns a SCIM user is rendered from (`r` = the User row), timestamps as UTC instants. */
const userColumnsSql = Prisma.sql`r."id", r."userName", r."externalId", r."active", r."attributes", r."version",
  r."createdAt" AT TIME ZONE 'UTC' AS "createdAt", r."updatedAt" AT TIME ZONE 'UTC' AS "updatedAt", r."pendingRevocation"`;

/** The user's SCIM groups (SSO-asserted groups are not SCIM resources) as a JSON array, in group id order. */
const userGroupsSql = (tenantId: string) => Prisma.sql`(SELECT COALESCE(json_agg(json_build_object('groupId', gm."groupId",
    'displayName', g."displayName") ORDER BY gm."groupId"), '[]'::json)
  FROM "GroupMembership" gm JOIN "Group" g ON g."id" = gm."groupId"
  WHERE gm."tenantId" = ${tenantId} AND gm."userId" = r."id" AND g."source" <> 'idp')`;

/** A user and its SCIM groups in one round trip (PATCH's read, GET by id); null when there is no such user. */
export async function selectScimUser(t: TenantCtx, id: string): Promise<UpdatedUser | null> {
  const rows = await t.db.$queryRaw<Record<string, unknown>[]>`
    SELECT ${userColumnsSql}, ${userGroupsSql(t.id)} AS "groups" FROM "User" r WHERE r."tenantId" = ${t.id} AND r."id" = ${id}`;
  const r = rows[0];
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
