import type { TenantCtx } from '../tenants/tenant-context.js';
import { ensureBuiltinTools } from './ensure-builtin-tools.js';
import { toCallableTool, type CallableTool } from './list-callable-tools.js';
import type { UpstreamRef } from './upstream-pool.js';

interface Row {
  id: string;
  name: string;
  kind: string;
  description: string | null;
  inputSchema: unknown;
  annotations: unknown;
  upstreamId: string | null;
  upstreamToolName: string | null;
  upUrl: string | null;
  upHeadersSecretId: string | null;
  upUpdatedAt: Date | null;
}

/**
 * One tool by name if this user may call it right now, else null (unknown, unapproved, not granted, user inactive).
 * The whole decision — user active, tool approved, for everyone or for a group the user is in *now* — is one SQL
 * round trip on the hot path of tools/call. Raw SQL bypasses the tenant-scoped client, so every table is bound to
 * the tenant explicitly (test/mcp/mcp-tools.test.ts has the cross-tenant case).
 */
export async function findCallableTool(t: TenantCtx, userId: string, name: string): Promise<(CallableTool & { upstream: UpstreamRef | null }) | null> {
  await ensureBuiltinTools(t);
  const rows = await t.db.$queryRaw<Row[]>`
    SELECT tl."id", tl."name", tl."kind", tl."description", tl."inputSchema", tl."annotations", tl."upstreamId", tl."upstreamToolName",
           up."url" AS "upUrl", up."headersSecretId" AS "upHeadersSecretId", up."updatedAt" AS "upUpdatedAt"
      FROM "Tool" tl
      LEFT JOIN "Upstream" up ON up."id" = tl."upstreamId" AND up."tenantId" = ${t.id}
     WHERE tl."tenantId" = ${t.id} AND tl."name" = ${name} AND tl."approved"
       AND EXISTS (SELECT 1 FROM "User" u WHERE u."tenantId" = ${t.id} AND u."id" = ${userId} AND u."active")
       AND (tl."everyone" OR EXISTS (
             SELECT 1 FROM "ToolGrant" g
               JOIN "GroupMembership" m ON m."groupId" = g."groupId" AND m."tenantId" = ${t.id}
              WHERE g."tenantId" = ${t.id} AND g."toolId" = tl."id" AND m."userId" = ${userId}))
     LIMIT 1`;
  const row = rows[0];
  if (!row) return null;
  const upstream = row.upstreamId && row.upUrl && row.upUpdatedAt
    ? { id: row.upstreamId, url: row.upUrl, headersSecretId: row.upHeadersSecretId, updatedAt: new Date(row.upUpdatedAt) }
    : null;
  return { ...toCallableTool(row), upstream };
}
