import { hotQuery, statement } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import type { AccessTokenVerifier, LiveGrant, PrefetchedGrant } from '../oauth/access-token.js';
import { SIGNING_KEYS_OWNER } from '../oauth/signing-keys.js';
import { liveGrantSql } from '../oauth/verify-access-token.js';
import type { Services } from '../services.js';
import { activeTenantOf, sealedKeysJoin, TENANT_COLUMNS, type TenantRow } from '../tenants/find-tenant.js';
import { looksLikeSlug } from '../tenants/slug.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { approvedToolsSql, callableToolsCache, grantedToolIdsJson, type ApprovedToolRow } from '../tools/callable-tools-cache.js';

/**
 * What a token's first MCP request reads, in ONE statement (issue 17 §2, decision 0049): the grant the bearer token
 * names with its user's state (the verifier's live_grant), the tools granted to that user's groups and, unless cached,
 * the tenant's approved tools (what the permission decision is made from: callable-tools-cache.ts, decision 0058) —
 * read ahead, from the token's claims BEFORE its signature is checked, so the request waits for one round trip
 * instead of two (or three after `tenant.changed`: the tenant row with its keys first).
 *
 * Everything is bound to the tenant row `t` found inside the statement (by slug, or by the cached context's id), never
 * to a claim: a token naming another tenant's grant reads nothing of it. The tools are read only when the named grant
 * exists in that tenant and belongs to the named subject, an active user, so a forged token makes the statement an
 * index probe.
 * Nothing read here is used or cached before the token verifies: the verifier takes the grant only for exactly the
 * grant and subject the verified token names (PrefetchedGrant), the tools are installed only after the bearer check
 * passed for that subject, and both only if no event that drops them arrived since the read started.
 */
function aheadSql(tenantActive: string, gid: string, sub: string, jti: string, withCatalogue: boolean): string {
  // In the text or not, never switched by a parameter (hot-sql.ts: the statement would be planned on every execution).
  const catalogue = withCatalogue
    ? `CASE WHEN g."accountId" = ${sub} THEN (SELECT COALESCE(json_agg(c ORDER BY c."name"), '[]'::json) FROM (${approvedToolsSql('t."id"')}) c) END`
    : 'NULL::json';
  return `g."found" AS "grantFound", g."accountId" AS "grantAccountId", g."expiresAt" AS "grantExpiresAt",
          g."active" AS "grantUserActive", g."revokedBefore" AS "grantRevokedBefore", g."tokenRevoked" AS "grantTokenRevoked",
          CASE WHEN g."accountId" = ${sub} AND g."active" THEN ${grantedToolIdsJson('t."id"', sub)} END AS "grantedToolIds",
          ${catalogue} AS "catalogue"
     FROM "Tenant" t
     LEFT JOIN LATERAL (SELECT true AS "found", lg.* FROM (${liveGrantSql('t."id"', gid, jti)}) lg WHERE ${tenantActive}) g ON TRUE`;
}

/** After a tenant-directory miss (every `tenant.changed`): the tenant row with its sealed keys, and the token's reads. */
export const TENANT_AND_TOKEN = statement(
  'mcp_cold_tenant',
  `SELECT ${TENANT_COLUMNS}, ${aheadSql(`t."status" = 'active'`, '$3::text', '$4::text', '$5::text', true)}
     ${sealedKeysJoin('$2::text')}
    WHERE t."slug" = $1::text`,
);

const tokenSql = (withCatalogue: boolean) => `SELECT ${aheadSql(`t."status" = 'active'`, '$2::text', '$3::text', '$4::text', withCatalogue)}
    WHERE t."id" = $1::text`;

/** The tenant and its catalogue cached, the token not: the token's reads only, for the cached context's tenant. */
export const TOKEN = statement('mcp_cold_token', tokenSql(false));

/** The tenant cached, its catalogue not (expired, or dropped by `tools.changed`): the token's reads and the catalogue. */
export const TOKEN_AND_CATALOGUE = statement('mcp_cold_token_catalogue', tokenSql(true));

interface AheadRow {
  grantFound: boolean | null;
  grantAccountId: string | null;
  grantExpiresAt: Date | null;
  grantUserActive: boolean | null;
  grantRevokedBefore: Date | null;
  grantTokenRevoked: boolean | null;
  grantedToolIds: string[] | null;
  catalogue: ApprovedToolRow[] | null;
}

/**
 * What the decision of the subject the token claimed needs, read ahead (the tools granted to their groups, and the
 * catalogue unless cached): installed only once the token verified for that subject.
 */
export interface ToolsAhead {
  subject: string;
  granted: string[];
  catalogue: ApprovedToolRow[] | null;
  readAt: number;
}

export interface ColdRead {
  /** The active tenant of the slug, or null (unknown, malformed, disabled). */
  t: TenantCtx | null;
  /** For the verifier (VerifyHooks.prefetched); absent when nothing was read ahead. */
  prefetched?: PrefetchedGrant;
  tools?: ToolsAhead;
}

/**
 * What the bearer token claims, UNVERIFIED — only to choose what to read ahead, never to decide anything: its grant
 * id, subject and token id, if it has them all and has not expired (an expired token is refused without any read).
 */
function claimsOf(token: string, nowSeconds: number): { gid: string; sub: string; jti: string } | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1]!.length > 8192) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const { gid, sub, jti, exp } = (payload ?? {}) as { gid?: unknown; sub?: unknown; jti?: unknown; exp?: unknown };
  const id = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 255;
  if (!id(gid) || !id(sub) || !id(jti) || typeof exp !== 'number' || exp <= nowSeconds) return null;
  return { gid, sub, jti };
}

/**
 * The request's tenant (through the tenant directory) and, for a token not yet verified on this node, its reads ahead.
 * `token`: the request's bearer token as `bearerTokenOf` took it from the Authorization header (undefined: none).
 */
export async function coldRead(s: Services, slug: string, token: string | undefined, verifier: AccessTokenVerifier | undefined): Promise<ColdRead> {
  const claims = token && verifier?.readsLiveState?.(token) ? claimsOf(token, Math.floor(s.clock.now().getTime() / 1000)) : null;
  if (!claims) return { t: await s.tenants.findActive(slug) };
  const { gid, sub, jti } = claims;
  const bySlug = async (db: Db, name: string) => {
    if (!looksLikeSlug(name)) return { tenant: null, along: null };
    const [row] = await hotQuery<TenantRow & AheadRow>(db, TENANT_AND_TOKEN, [name, SIGNING_KEYS_OWNER, gid, sub, jti]);
    return { tenant: activeTenantOf(db, row), along: row ?? null };
  };
  const found = await s.tenants.findActiveWith(slug, bySlug);
  const t = found.ctx;
  if (!t) return { t };
  let row: AheadRow | undefined;
  let readAt: number;
  if (found.along !== undefined) {
    row = found.along ?? undefined;
    readAt = found.readAt!;
  } else {
    readAt = s.bus.now();
    [row] = await hotQuery<AheadRow>(t.db, callableToolsCache(s).hasCatalogue(t) ? TOKEN : TOKEN_AND_CATALOGUE, [t.id, gid, sub, jti]);
  }
  if (!row) return { t };
  const live: LiveGrant | null = row.grantFound
    ? {
        accountId: row.grantAccountId,
        expiresAt: row.grantExpiresAt,
        active: row.grantUserActive,
        revokedBefore: row.grantRevokedBefore,
        tokenRevoked: row.grantTokenRevoked === true,
      }
    : null;
  return {
    t,
    prefetched: { tenantId: t.id, grantId: gid, subject: sub, tokenId: jti, live, readAt },
    ...(row.grantedToolIds && { tools: { subject: sub, granted: row.grantedToolIds, catalogue: row.catalogue, readAt } }),
  };
}
