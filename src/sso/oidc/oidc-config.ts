import * as oidc from 'openid-client';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';
import { guardIdpFetch } from './guard-idp-fetch.js';

interface CachedIssuer {
  metadata: oidc.ServerMetadata;
  jwks?: oidc.ExportedJWKSCache;
  fetchedAt: number;
}

const DISCOVERY_TTL_MS = 60 * 60_000;
const issuers = new Map<string, CachedIssuer>();

/**
 * The openid-client configuration of a connection. Discovery documents are cached per issuer for an hour; the JWKS
 * cache is carried over so key rotation is handled by openid-client (an unknown `kid` triggers a JWKS refetch).
 * `enableNonRepudiationChecks` makes openid-client verify the ID token's signature even though it came straight
 * from the token endpoint over TLS (it skips that by default, OIDC Core §3.1.3.7 rule 6 allows it — we do not).
 */
export async function oidcConfig(s: Services, t: TenantCtx, conn: Connection): Promise<oidc.Configuration> {
  const settings = conn.config.oidc!;
  const secret = conn.secretId ? await s.vault.getString(t, conn.secretId) : '';
  const auth = settings.clientAuth === 'client_secret_post' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
  // Plain-http issuers exist only in development and tests.
  const insecure = new URL(conn.issuer).protocol === 'http:' && s.config.nodeEnv !== 'production';
  // ID token times are checked against the system clock, the IdP's reference (60 s of tolerance for drift).
  const metadata: Partial<oidc.ClientMetadata> = { [oidc.clockTolerance]: 60 };
  const cached = issuers.get(conn.issuer);
  let config: oidc.Configuration;
  if (cached && Date.now() - cached.fetchedAt < DISCOVERY_TTL_MS) {
    config = new oidc.Configuration(cached.metadata, settings.clientId, metadata, auth);
    if (cached.jwks) oidc.setJwksCache(config, cached.jwks);
  } else {
    // Behind a circuit breaker: a dead IdP fails logins at once (and is probed again after a while) instead of every
    // login waiting for its own timeout.
    config = await s.idpFetches.run(`oidc:${conn.issuer}`, () =>
      oidc.discovery(new URL(conn.issuer), settings.clientId, metadata, auth, {
        // The issuer is a tenant admin's choice: discovery connects where the egress policy admits (src/http/egress.ts).
        [oidc.customFetch]: (url, options) => s.egress.fetch(url, options as RequestInit),
        ...(insecure && { execute: [oidc.allowInsecureRequests] }),
      }),
    );
    issuers.set(conn.issuer, { metadata: config.serverMetadata(), fetchedAt: Date.now() });
  }
  if (insecure) oidc.allowInsecureRequests(config);
  oidc.enableNonRepudiationChecks(config);
  config[oidc.customFetch] = idpHttp(s, conn.issuer, config.serverMetadata().jwks_uri);
  return config;
}

/**
 * What openid-client fetches after discovery (token endpoint, JWKS, userinfo) goes through the IdP's circuits too, so
 * a dead IdP fails the login at once instead of after openid-client's 30 s timeout. The JWKS has its own circuit,
 * `jwks:<issuer>`, shared with ID-JAG / token exchange / logout-token checks (src/oauth/cross-app/idp-keys.ts), and
 * falls back to the last good key set while it is open; the rest shares discovery's `oidc:<issuer>`.
 */
function idpHttp(s: Services, issuer: string, jwksUri: string | undefined): oidc.CustomFetch {
  const jwks = guardIdpFetch(s, `jwks:${issuer}`, { staleJwks: true });
  const other = guardIdpFetch(s, `oidc:${issuer}`);
  return (url, options) => (url === jwksUri ? jwks : other)(url, options as RequestInit);
}

/** Keeps the JWKS openid-client fetched for the next login. */
export function rememberJwks(conn: Connection, config: oidc.Configuration): void {
  const entry = issuers.get(conn.issuer);
  const jwks = oidc.getJwksCache(config);
  if (entry && jwks) entry.jwks = jwks;
}

export function oidcRedirectUri(s: Services, t: TenantCtx, conn: Connection): string {
  return conn.config.oidc?.callback === 'shared' ? `${s.config.publicUrl}/oidc/callback` : `${s.config.publicUrl}/t/${t.slug}/oidc/callback`;
}
