import type { Services } from '../../services.js';
import { findConnectionByIssuer, type Connection } from '../../sso/connections/manage-connections.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { ID_JAG_TYP, TOKEN_TYPE } from './grant-types.js';
import { idpKeys } from './idp-keys.js';
import { checkAlg, checkTimes, readHeader, requireStrings, RefusedToken, unverifiedIssuer, verifySignature, type Claims } from './jwt-checks.js';

export const IDP_TOKEN_SKEW_S = 60;
/** ID tokens live minutes to an hour at real IdPs; a day-long one is not something we take as a credential. */
export const IDP_TOKEN_MAX_LIFETIME_S = 24 * 3600;

/** `typ` values that mark a JWT as something other than an ID token or access token (RFC 8725 §3.11). */
const NOT_A_SUBJECT_TOKEN = new Set([ID_JAG_TYP, 'logout+jwt', 'secevent+jwt']);

export interface VerifiedIdpToken {
  claims: Claims & { iss: string; sub: string };
  conn: Connection;
}

/**
 * An RFC 8693 subject or actor token: an ID token (or JWT access token) from one of the tenant's OIDC IdPs, checked
 * as an SSO login checks the ID token (OIDC Core §3.1.3.7): issuer is an enabled connection of this tenant, signature
 * by its JWKS with an allowed algorithm, `aud` contains the client id the tenant configured for that connection (and
 * `azp` is it when there are several audiences), expiry and issue time within the skew, and the claims the connection
 * requires (Entra `tid`, Google `hd`). No nonce: nobody here started the login it came from.
 */
export async function verifyIdpToken(s: Services, t: TenantCtx, token: string, type: string, now: Date): Promise<VerifiedIdpToken> {
  const header = readHeader(token);
  checkAlg(header);
  const typ = String(header.typ ?? '').toLowerCase().replace(/^application\//, '');
  if (NOT_A_SUBJECT_TOKEN.has(typ) || (type === TOKEN_TYPE.idToken && typ === 'at+jwt')) throw new RefusedToken(`typ ${typ} is not a ${type}`);
  const conn = await findConnectionByIssuer(t, 'oidc', unverifiedIssuer(token));
  if (!conn?.config.oidc) throw new RefusedToken('issuer is not an OIDC IdP of this tenant');
  const claims = await verifySignature(token, await idpKeys(s, t, conn));
  if (claims.iss !== conn.issuer) throw new RefusedToken('iss changed between header and payload');
  requireStrings(claims, ['sub']);
  checkAudience(claims, conn.config.oidc.clientId);
  checkTimes(claims, { now, skewS: IDP_TOKEN_SKEW_S, maxLifetimeS: IDP_TOKEN_MAX_LIFETIME_S });
  checkRequiredClaims(claims, conn);
  return { claims: claims as VerifiedIdpToken['claims'], conn };
}

function checkAudience(claims: Claims, clientId: string): void {
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(clientId)) throw new RefusedToken(`aud ${JSON.stringify(claims.aud ?? null)} does not name the configured client`);
  if (aud.length > 1 && claims.azp !== clientId) throw new RefusedToken('several audiences and azp is not the configured client');
}

/** Same rule as the SSO callback (src/sso/oidc/finish-oidc-login.ts): the tenant claims the connection requires. */
function checkRequiredClaims(claims: Claims, conn: Connection): void {
  for (const [name, value] of Object.entries(conn.config.oidc!.requiredClaims)) {
    if (String(claims[name] ?? '').toLowerCase() !== value.toLowerCase()) throw new RefusedToken(`claim ${name} does not match the connection`);
  }
  if (conn.issuer === 'https://accounts.google.com' && !conn.config.allowedDomains.includes(String(claims.hd ?? '').toLowerCase())) {
    throw new RefusedToken('hd is not an allowed domain');
  }
}
