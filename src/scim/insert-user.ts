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
