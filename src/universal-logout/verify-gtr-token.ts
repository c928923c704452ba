import { idpKeys } from '../oauth/cross-app/idp-keys.js';
import {
  checkAlg,
  checkTimes,
  readHeader,
  requireStrings,
  RefusedToken,
  unverifiedIssuer,
  verifySignature,
  type Claims,
} from '../oauth/cross-app/jwt-checks.js';
import type { Services } from '../services.js';
import { findConnectionByIssuer, type Connection } from '../sso/connections/manage-connections.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export const GTR_SKEW_S = 60;
/** Okta mints the request JWT for one call, seconds before it; an hour-long one is not plausible. */
export const GTR_MAX_LIFETIME_S = 3600;

/**
 * `typ` values of JWTs that name our tenant as audience for another purpose (RFC 8725 §3.11): an ID-JAG carries
 * `aud` = our issuer too and must never double as a logout credential, nor a logout token or SET of another flow.
 */
const OTHER_PURPOSE = new Set(['oauth-id-jag+jwt', 'logout+jwt', 'secevent+jwt']);

/** A SET usually carries no `exp` (RFC 8417 §2.2); one older than this is not acted on. */
export const SET_MAX_AGE_S = 600;

export interface GtrAudiences {
  /** The endpoint URL itself (what Okta puts in `aud`). */
  endpoint: string;
  /** The tenant's issuer, also accepted. */
  issuer: string;
  /** `set`: a Security Event Token pushed by SSF (RFC 8417, RFC 8935): `typ` must be `secevent+jwt`, `exp` optional. */
  kind?: 'gtr' | 'set';
}

export interface VerifiedGtrToken {
  claims: Claims & { iss: string; jti: string; exp: number };
  conn: Connection;
}

/**
 * The Bearer JWT of a Global Token Revocation request, as Okta Universal Logout signs it with its org keys: issuer is
 * an enabled OIDC connection of this tenant, signature by that connection's JWKS (discovery, the cache cross-app
 * access uses) with an asymmetric algorithm, one audience naming this tenant's endpoint or issuer, `exp`/`iat`
 * within the skew and a bounded lifetime, and a `jti` (single use is checked by the caller, against the database).
 */
export async function verifyGtrToken(s: Services, t: TenantCtx, token: string, aud: GtrAudiences, now: Date): Promise<VerifiedGtrToken> {
  const header = readHeader(token);
  checkAlg(header);
  const typ = String(header.typ ?? '').toLowerCase().replace(/^application\//, '');
  const isSet = aud.kind === 'set';
  // RFC 8417 §2.3, SSF 1.0: SETs are explicitly typed; anything else is not a SET, and a SET is not a GTR request.
  if (isSet ? typ !== 'secevent+jwt' : OTHER_PURPOSE.has(typ)) throw new RefusedToken(`typ ${typ || '(none)'} is not ${isSet ? 'secevent+jwt' : 'a revocation request'}`);
  const conn = await findConnectionByIssuer(t, 'oidc', unverifiedIssuer(token));
  if (!conn) throw new RefusedToken('issuer is not an OIDC IdP of this tenant');
  const claims = await verifySignature(token, await idpKeys(s, t, conn));
  if (claims.iss !== conn.issuer) throw new RefusedToken('iss changed between header and payload');
  requireStrings(claims, ['jti']);
  const a = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
  if (a !== aud.endpoint && a !== aud.issuer) throw new RefusedToken(`aud ${JSON.stringify(claims.aud ?? null)} is not this tenant`);
  const exp = isSet && claims.exp === undefined && typeof claims.iat === 'number' ? claims.iat + SET_MAX_AGE_S : claims.exp;
  checkTimes({ ...claims, exp }, { now, skewS: GTR_SKEW_S, maxLifetimeS: GTR_MAX_LIFETIME_S });
  return { claims: { ...claims, exp } as VerifiedGtrToken['claims'], conn };
}
