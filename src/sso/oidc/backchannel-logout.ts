import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { idpKeys } from '../../oauth/cross-app/idp-keys.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { findConnectionByIssuer } from '../connections/manage-connections.js';
import { endIdpSessions } from '../logout/end-idp-sessions.js';
import { rememberOnce } from '../saml/replay-cache.js';
import { oidcConfig } from './oidc-config.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token is acted on only shortly after it was issued (BCL 1.0 §2.6 step 8 leaves the window to the RP). */
const MAX_AGE_S = 5 * 60;
const SKEW_S = 60;
/** Asymmetric only: `none` and HMAC (keyed with a client secret the IdP shares with others' copies) are refused. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** A refused logout token; the message goes into the 400 answer's error_description (no secrets in it). */
export class LogoutTokenRefused extends Error {}

/**
 * OIDC Back-Channel Logout 1.0 §2.6, the logout token of `POST /t/{slug}/oidc/backchannel-logout`: the connection by
 * `iss`; the signature by the IdP's JWKS (asymmetric algorithms only); `aud` = our client id; `iat` within 5 minutes
 * (±1 min); the backchannel-logout `events` member; `sub` and/or `sid`; no `nonce` (so an ID token is never a logout
 * token); `jti` single-use across nodes. Then the sessions that IdP session / subject started end.
 */
export async function receiveLogoutToken(s: Services, t: TenantCtx, token: unknown) {
  if (typeof token !== 'string' || token.length === 0 || token.length > 16_384) throw new LogoutTokenRefused('logout_token missing or too large');
  let unverified: JWTPayload;
  let typ: string | undefined;
  try {
    unverified = decodeJwt(token);
    typ = decodeProtectedHeader(token).typ;
  } catch {
    throw new LogoutTokenRefused('logout_token is not a JWT');
  }
  if (typ !== undefined && !['logout+jwt', 'JWT'].includes(typ)) throw new LogoutTokenRefused(`typ ${typ} is not a logout token`);
  const conn = typeof unverified.iss === 'string' ? await findConnectionByIssuer(t, 'oidc', unverified.iss.replace(/\/+$/, '')) : null;
  if (!conn) throw new LogoutTokenRefused('no OIDC connection of this tenant has that issuer');
  const config = await oidcConfig(s, t, conn);
  const jwksUri = config.serverMetadata().jwks_uri;
  if (!jwksUri) throw new LogoutTokenRefused('the IdP publishes no jwks_uri');
  // The IdP's key set as ID-JAG and token exchange see it: one cache and one `jwks:<issuer>` circuit per IdP.
  // The cause (a fetch error, the egress policy, an open circuit) is for our log, not for an anonymous caller.
  const jwks = await idpKeys(s, t, conn).catch((err: Error) => {
    s.logger.warn({ err, tenantId: t.id, connectionId: conn.id }, 'back-channel logout: the IdP keys are unavailable');
    throw new LogoutTokenRefused("the IdP's keys are unavailable");
  });
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, jwks, {
      issuer: config.serverMetadata().issuer,
      audience: conn.config.oidc!.clientId,
      algorithms: ALGORITHMS,
      requiredClaims: ['iat', 'jti'],
      maxTokenAge: MAX_AGE_S,
      clockTolerance: SKEW_S,
      currentDate: s.clock.now(),
    }));
  } catch (err) {
    // jose's codes name the failed check (e.g. ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED) without echoing
    // anything; its messages may quote the token's own claims.
    const code = (err as { code?: unknown }).code;
    throw new LogoutTokenRefused(`logout_token rejected${typeof code === 'string' && /^ERR_[A-Z_]{1,60}$/.test(code) ? ` (${code})` : ''}`);
  }
  const events = claims.events as Record<string, unknown> | undefined;
  if (!events || typeof events[EVENT] !== 'object' || events[EVENT] === null) throw new LogoutTokenRefused('events claim without the back-channel logout event');
  if ('nonce' in claims) throw new LogoutTokenRefused('a logout token must not contain a nonce');
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
  const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
  if (!sub && !sid) throw new LogoutTokenRefused('a logout token needs sub or sid');
  const keepUntil = new Date((claims.iat! + MAX_AGE_S + SKEW_S) * 1000 + 60_000);
  if (!(await rememberOnce(s, t, 'oidc-logout-token', `${conn.issuer}|${claims.jti}`, keepUntil))) throw new LogoutTokenRefused('logout token already used (jti)');
  return endIdpSessions(s, t, conn, { subject: sub, sessions: sid ? [sid] : undefined }, 'oidc-backchannel');
}
