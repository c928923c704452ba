import type { AuditRow } from '../audit/audit-log.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { JsonObject } from './canonicalize.js';
import type { userColumns } from './user-resource.js';

export interface NewScimUser {
  id: string;
  cols: ReturnType<typeof userColumns>;
  doc: JsonObject;
  now: Date;
  /** The SCIM token that provisions the user: its IdP connection (read in the same statement) links new users. */
  scimTokenId: string | null;
}

/**
 * A SCIM create as ONE statement: the user row, the provisioning token's connection and the audit event (appended to
 * the tenant's chain by audit_append, as insertAuditRows does). One statement is one implicit transaction, so a
 * process killed half-way leaves neither a user without its event nor an event without its user, and the chain head's
 * row lock is held for one statement instead of the four round trips of an interactive transaction (BEGIN, INSERT,
 * append, COMMIT). The benchmark's profile put Prisma's query interpreter and those round trips at most of a create's
 * cost (docs/scim.md). A duplicate userName fails the INSERT (unique index) and nothing is appended. Raw SQL
 * bypasses the tenant-scoped client: the tenant id is bound from the tenant, never from the request.
 */
export async function insertScimUser(t: TenantCtx, u: NewScimUser, audit: AuditRow): Promise<void> {
  const { cols } = u;
  const now = u.now.toISOString();
  await t.db.$executeRaw`
    WITH u AS (
      INSERT INTO "User" ("id", "tenantId", "userName", "userNameKey", "externalId", "active", "displayName", "email",
          "source", "ssoConnectionId", "attributes", "createdAt", "updatedAt")
        VALUES (${u.id}, ${t.id}, ${cols.userName}, ${cols.userNameKey}, ${cols.externalId}, ${cols.active},
          ${cols.displayName}, ${cols.email}, 'scim'::"UserSource",
          (SELECT "connectionId" FROM "ScimToken" WHERE "id" = ${u.scimTokenId} AND "tenantId" = ${t.id}),
          ${JSON.stringify(u.doc)}::jsonb, ${now}::timestamp(3), ${now}::timestamp(3))
        RETURNING "id")
    SELECT audit_append(${t.id}, ${JSON.stringify([audit])}::jsonb) FROM u`;
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

/**
 * PUT and PATCH as ONE statement, like {@link insertScimUser}: the versioned UPDATE and, only if it matched a row, the
 * audit event. Resolves with the number of rows changed (0 = a concurrent write won). An interactive transaction here
 * failed PATCHes with a 500 under a burst (Prisma gives up waiting for a transaction after 2 s; docs/benchmarks.md).
 */
export async function updateScimUser(t: TenantCtx, u: UserUpdate, audit: AuditRow): Promise<number> {
  const { cols } = u;
  const stamped = u.stamp !== undefined;
  // Rows returned, not the driver's affected-row count: PGlite reports 0 affected rows for a SELECT.
  const rows = await t.db.$queryRaw<{ n: number }[]>`
    WITH u AS (
      UPDATE "User" SET "userName" = ${cols.userName}, "userNameKey" = ${cols.userNameKey}, "externalId" = ${cols.externalId},
          "active" = ${cols.active}, "displayName" = ${cols.displayName}, "email" = ${cols.email},
          "attributes" = ${JSON.stringify(u.doc)}::jsonb, "version" = "version" + 1, "updatedAt" = ${u.now.toISOString()}::timestamp(3),
          "revokedBefore" = CASE WHEN ${stamped} THEN ${u.stamp?.revokedBefore.toISOString() ?? null}::timestamp(3) ELSE "revokedBefore" END,
          "pendingRevocation" = CASE WHEN ${stamped} THEN ${stamped ? JSON.stringify(u.stamp!.pendingRevocation) : null}::jsonb ELSE "pendingRevocation" END
        WHERE "tenantId" = ${t.id} AND "id" = ${u.id} AND "version" = ${u.version}
        RETURNING "id")
    SELECT 1 AS n FROM u, LATERAL audit_append(${t.id}, ${JSON.stringify([audit])}::jsonb)`;
  return rows.length;
}
