import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { isEgressRefusal, type Egress } from '../../http/egress.js';
import type { Clock } from '../../lib/clock.js';
import type { ServiceAccountKey } from './service-account-key.js';

/** The token endpoint refused (RFC 6749 §5.2 error code, e.g. `unauthorized_client` when DWD is not granted). */
export class GoogleTokenError extends Error {
  override name = 'GoogleTokenError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface GoogleAccessToken {
  accessToken: string;
  expiresAt: Date;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * One RFC 7523 JWT-bearer token request, as google-auth-library's JWT client makes it, but posted to the key's own
 * `token_uri` (gtoken hard-codes Google's URL, which Private Service Connect and the tests must replace; see
 * docs/decisions/0018). The assertion (§3): iss = the service account, sub = the impersonated user (DWD), aud = the
 * token URI, scope = the space-separated scopes, lifetime one hour (Google's maximum).
 *
 * `fetch`: a tenant's connector key is the tenant admin's choice, and so is its `token_uri`: it is posted to through
 * the egress policy (`Egress.fetch`, docs/decisions/0059), never to a private, loopback or link-local address unless
 * the deployment admits that network. The publisher's own key (the operator's) may use the platform fetch.
 */
export async function requestGoogleToken(
  key: ServiceAccountKey,
  subject: string,
  scopes: readonly string[],
  clock: Clock,
  fetch: Egress['fetch'],
  signal?: AbortSignal,
): Promise<GoogleAccessToken> {
  const now = Math.floor(clock.now().getTime() / 1000);
  const assertion = await new SignJWT({ scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id })
    .setIssuer(key.client_email)
    .setSubject(subject)
    .setAudience(key.token_uri)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(createPrivateKey(key.private_key));
  let res: Response;
  try {
    res = await fetch(key.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }),
      signal: signal ?? AbortSignal.timeout(15_000),
      redirect: 'error',
    });
  } catch (err) {
    if (isEgressRefusal(err)) throw new GoogleTokenError('address_refused', 0, `The key's token_uri is on a private, loopback or link-local address, which this deployment does not reach`);
    throw new GoogleTokenError('unreachable', 0, 'The Google token endpoint is unreachable');
  }
  const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  if (!res.ok || typeof body.access_token !== 'string') {
    const code = typeof body.error === 'string' ? body.error.slice(0, 64) : `http_${res.status}`;
    const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 200) : '';
    throw new GoogleTokenError(code, res.status, description || code);
  }
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
  return { accessToken: body.access_token, expiresAt: new Date(clock.now().getTime() + expiresIn * 1000) };
}
