import * as oidc from 'openid-client';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';
import { entraLoginScopes } from '../../connectors/microsoft/entra-sign-in.js';
import { idJagLoginScopes } from '../../upstream-auth/id-jag/idp-sign-in.js';
import { saveLoginState } from '../login-state.js';
import { forcedLoginState, type LoginPurpose } from '../login/login-purpose.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { oidcConfig, oidcRedirectUri } from './oidc-config.js';
import { issueSignedState } from './signed-state.js';

/**
 * Starts an authorization-code login (OIDC Core §3.1.2.1) with PKCE S256 (RFC 7636), `state` (RFC 6749 §10.12) and
 * `nonce` (OIDC Core §3.1.2.1). The state is signed (signed-state.ts); nonce, verifier and `browser` (the hash of the
 * browser's binding nonce, browser-binding.ts) stay server-side in LoginState, keyed by the state's hash.
 */
export async function startOidcLogin(s: Services, t: TenantCtx, conn: Connection, opts: { returnTo: string; loginHint?: string; claims?: string; browser: string; purpose?: LoginPurpose }): Promise<string> {
  let config: oidc.Configuration;
  try {
    config = await oidcConfig(s, t, conn);
  } catch (err) {
    throw new SsoError('oidc.discovery', 'discovery_failed', ssoMessages.failed, (err as Error).message, 502, { issuer: conn.issuer }, conn.id);
  }
  const state = await issueSignedState(s, t);
  const nonce = oidc.randomNonce();
  const verifier = oidc.randomPKCECodeVerifier();
  const redirectUri = oidcRedirectUri(s, t, conn);
  await saveLoginState(s, t, conn.id, state, { ...forcedLoginState(s, opts.purpose ?? {}), kind: 'oidc', nonce, verifier, redirectUri, returnTo: opts.returnTo, browser: opts.browser });
  const params: Record<string, string> = {
    response_type: 'code',
    redirect_uri: redirectUri,
    // The Microsoft connector's hook: Entra also issues the OBO assertion and a refresh token (issue 11 §1); ID-JAG
    // upstreams' hook: a refresh token for fresh ID tokens to exchange (issue 13 §3).
    scope: [...new Set([...conn.config.oidc!.scopes, ...(await entraLoginScopes(t, conn)), ...(await idJagLoginScopes(t, conn))])].join(' '),
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (opts.loginHint) params.login_hint = opts.loginHint.slice(0, 256);
  // A conditional-access claims challenge to satisfy (OIDC Core §5.5 `claims`; the Microsoft tools' sign-in link).
  const claims = claimsRequest(opts.claims);
  if (claims) params.claims = claims;
  // The admin console's re-authentication and "Test sign-in": the IdP must ask again, not reuse its session, and say
  // when it did (OIDC Core §3.1.2.1: with max_age, auth_time is REQUIRED; finish-oidc-login.ts checks it).
  if (opts.purpose?.forceLogin) {
    params.prompt = 'login';
    params.max_age = '0';
  }
  return oidc.buildAuthorizationUrl(config, params).href;
}

/**
 * The `claims` request parameter (OIDC Core §5.5) from a login link: a JSON object of at most 2 KB, else ignored. It
 * only asks the IdP for more (e.g. Entra's conditional-access `acrs`); the ID token is validated as always.
 */
export function claimsRequest(raw: string | undefined): string | null {
  if (!raw || raw.length > 2048) return null;
  try {
    const v: unknown = JSON.parse(raw);
    return v && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : null;
  } catch {
    return null;
  }
}
