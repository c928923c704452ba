import type { TenantCtx } from '../tenants/tenant-context.js';
import type { UpstreamRef } from './upstream-pool.js';
import { upstreamPrefix } from './upstream-names.js';

/** An upstream whose prompts and resources this user may use now, with the prefix clients see. */
export interface ContentUpstream extends UpstreamRef {
  name: string;
  prefix: string;
}

interface Row {
  id: string;
  name: string;
  prefix: string | null;
  url: string;
  headersSecretId: string | null;
  updatedAt: Date;
  authMode: string;
}

/**
 * The upstreams whose prompts and resources this user may use now: user active, content approved for everyone or
 * for a group the user is in (current membership). Longest prefix first, so routing by prefix picks the most specific
 * one. One query per request: prompts and resources are not the tools/call hot path. Raw SQL bypasses the
 * tenant-scoped client, so every table is bound to the tenant explicitly (cross-tenant case in the tests).
 */
export async function contentUpstreams(t: TenantCtx, userId: string): Promise<ContentUpstream[]> {
  const rows = await t.db.$queryRaw<Row[]>`
    SELECT up."id", up."name", up."prefix", up."url", up."headersSecretId", up."updatedAt", up."authMode"
      FROM "Upstream" up
     WHERE up."tenantId" = ${t.id} AND up."contentApproved"
       AND EXISTS (SELECT 1 FROM "User" u WHERE u."tenantId" = ${t.id} AND u."id" = ${userId} AND u."active")
       AND (up."contentEveryone" OR EXISTS (
             SELECT 1 FROM "UpstreamContentGrant" g
               JOIN "GroupMembership" m ON m."groupId" = g."groupId" AND m."tenantId" = ${t.id}
              WHERE g."tenantId" = ${t.id} AND g."upstreamId" = up."id" AND m."userId" = ${userId}))
     ORDER BY up."name" ASC`;
  return rows
    .map((r) => ({ id: r.id, name: r.name, prefix: upstreamPrefix(r), url: r.url, headersSecretId: r.headersSecretId, updatedAt: new Date(r.updatedAt), authMode: r.authMode }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
}
