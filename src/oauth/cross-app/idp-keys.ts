import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import type { Services } from '../../services.js';
import { guardIdpFetch } from '../../sso/oidc/guard-idp-fetch.js';
import { oidcConfig } from '../../sso/oidc/oidc-config.js';
import type { Connection } from '../../sso/connections/manage-connections.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

interface CachedKeys {
  /** The services the key set's fetches report to (several apps share a test process). */
  s: Services;
  jwksUri: string;
  keys: JWTVerifyGetKey;
}

const byIssuer = new Map<string, CachedKeys>();

/**
 * How often an unknown `kid` may trigger a JWKS refetch (per IdP): a stream of forged tokens with random `kid`s must
 * not turn us into a request amplifier against the IdP (EMA §7.2.1: refresh on unknown kid, with a rate limit).
 */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;
const JWKS_MAX_AGE_MS = 10 * 60_000;

/**
 * The signing keys of a tenant's OIDC IdP: the `jwks_uri` of its discovery document (the one SSO logins use, cached
 * there for an hour), never a URL named inside a token. jose keeps the set, picks the key by `kid`, and refetches on
 * an unknown `kid` at most once per cooldown. Fetches go through the IdP's `jwks:<issuer>` circuit: a dead endpoint
 * fails fast, and the last good key set keeps verifying meanwhile (src/sso/oidc/guard-idp-fetch.ts).
 */
export async function idpKeys(s: Services, t: TenantCtx, conn: Connection): Promise<JWTVerifyGetKey> {
  const config = await oidcConfig(s, t, conn);
  const jwksUri = config.serverMetadata().jwks_uri;
  if (!jwksUri) throw new Error(`the discovery document of ${conn.issuer} names no jwks_uri`);
  // Plain http only where SSO accepts it (development and tests); keys for production always come over TLS.
  if (new URL(jwksUri).protocol !== 'https:' && s.config.nodeEnv === 'production') throw new Error(`jwks_uri ${jwksUri} is not https`);
  const cached = byIssuer.get(conn.issuer);
  if (cached?.jwksUri === jwksUri && cached.s === s) return cached.keys;
  const keys = createRemoteJWKSet(new URL(jwksUri), {
    cooldownDuration: JWKS_REFETCH_COOLDOWN_MS,
    cacheMaxAge: JWKS_MAX_AGE_MS,
    timeoutDuration: 5000,
    [customFetch]: guardIdpFetch(s, `jwks:${conn.issuer}`, { staleJwks: true }),
  });
  byIssuer.set(conn.issuer, { s, jwksUri, keys });
  return keys;
}
