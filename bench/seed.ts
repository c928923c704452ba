// Populations for the benchmarks: users, groups and memberships seeded with SQL (what is measured reads them, nothing
// measured writes them), and access tokens from the tenant authorization server's real code flow
// (test/oauth/support/oauth-client.ts) — or, for large populations, minted like a sample of real ones (mintTokens).
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import type pg from 'pg';
import { loadSigningKeys } from '../src/oauth/signing-keys.js';
import type { Services } from '../src/services.js';
import type { TenantCtx } from '../src/tenants/tenant-context.js';
import { obtainTokens, registerClient } from '../test/oauth/support/oauth-client.js';
import { drive } from './support.js';

export type App = Parameters<typeof obtainTokens>[0];

/** `count` active users `usr_{prefix}{1…count}` (userName `{prefix}{n}@bench.example`); returns their ids in order. */
export async function seedUsers(pool: pg.Pool, tenantId: string, prefix: string, count: number): Promise<string[]> {
  await pool.query(
    `INSERT INTO "User" (id, "tenantId", "userName", "userNameKey", email, "displayName", source, "updatedAt")
     SELECT 'usr_' || $3 || g, $1, $3 || g || '@bench.example', $3 || g || '@bench.example', $3 || g || '@bench.example', $3 || g, 'manual', now()
     FROM generate_series(1, $2::int) g`,
    [tenantId, count, prefix],
  );
  return Array.from({ length: count }, (_, i) => `usr_${prefix}${i + 1}`);
}

/** Manual groups named `names` (ids `grp_{prefix}{1…}`); returns their ids in order. */
export async function seedGroups(pool: pg.Pool, tenantId: string, prefix: string, names: string[]): Promise<string[]> {
  const ids = names.map((_, i) => `grp_${prefix}${i + 1}`);
  await pool.query(
    `INSERT INTO "Group" (id, "tenantId", "displayName", "displayNameKey", source, "updatedAt")
     SELECT g.id, $1, g.name, lower(g.name), 'manual', now() FROM unnest($2::text[], $3::text[]) AS g(id, name)`,
    [tenantId, ids, names],
  );
  return ids;
}

/** Group memberships, as [groupId, userId] pairs. */
export async function seedMemberships(pool: pg.Pool, tenantId: string, pairs: [string, string][]): Promise<void> {
  await pool.query(
    `INSERT INTO "GroupMembership" ("tenantId", "groupId", "userId") SELECT $1, m.g, m.u FROM unnest($2::text[], $3::text[]) AS m(g, u)`,
    [tenantId, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
}

/** Each user's MCP access token from the real code flow (one registered client for all of them), `concurrency` at a time. */
export async function realTokens(app: App, t: TenantCtx, userIds: string[], concurrency = 8): Promise<string[]> {
  const client = await registerClient(app, t);
  const tokens: string[] = [];
  await drive(userIds.length, concurrency, async (i) => {
    tokens[i] = (await obtainTokens(app, t, userIds[i]!, client)).tokens.body.access_token!;
  });
  return tokens;
}

/**
 * Access tokens for many users, made like `sample` (a token from the real code flow) without running the flow for
 * each: the sample's grant row is copied for each user (its own grant id, the user as account) and a JWT with the
 * sample's header and claims — `sub`, `gid` and `jti` replaced — is signed with the tenant's signing key. The gateway's
 * verifier does for these exactly what it does for real ones (signature, claims, the grant row, the user row).
 */
export async function mintTokens(s: Services, pool: pg.Pool, t: TenantCtx, sample: string, userIds: string[]): Promise<string[]> {
  const header = decodeProtectedHeader(sample);
  const claims = decodeJwt(sample);
  const jwk = (await loadSigningKeys(s, t)).keys.find((k) => k.kid === header.kid);
  if (!jwk || typeof claims.gid !== 'string') throw new Error('the sample token is not signed by the tenant key or has no grant');
  const key = await importJWK(jwk, 'RS256');
  const { rows } = await pool.query(`SELECT * FROM "OidcPayload" WHERE "tenantId" = $1 AND model = 'Grant' AND id = $2`, [t.id, claims.gid]);
  const grant = rows[0] as { payload: Record<string, unknown>; grantId: string | null; expiresAt: Date | null } | undefined;
  if (!grant) throw new Error('the sample token has no grant row');
  const grantIds = userIds.map(() => randomBytes(32).toString('base64url'));
  await pool.query(
    `INSERT INTO "OidcPayload" ("tenantId", model, id, payload, "grantId", "accountId", "expiresAt")
     SELECT $1, 'Grant', g.id, $2::jsonb || jsonb_build_object('accountId', g.account, 'jti', g.id), CASE WHEN $3::text IS NULL THEN NULL ELSE g.id END, g.account, $4
       FROM unnest($5::text[], $6::text[]) AS g(id, account)`,
    [t.id, JSON.stringify(grant.payload), grant.grantId, grant.expiresAt, grantIds, userIds],
  );
  const tokens: string[] = [];
  // In slices: the signatures run on libuv's thread pool.
  for (let i = 0; i < userIds.length; i += 64) {
    const slice = userIds.slice(i, i + 64);
    tokens.push(
      ...(await Promise.all(
        slice.map((sub, k) =>
          new SignJWT({ ...claims, sub, gid: grantIds[i + k], jti: randomBytes(16).toString('base64url') }).setProtectedHeader({ ...header, alg: 'RS256' }).sign(key),
        ),
      )),
    );
  }
  return tokens;
}
