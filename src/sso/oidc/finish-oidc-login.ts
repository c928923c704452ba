import * as oidc from 'openid-client';
import { captureEntraSignIn } from '../../connectors/microsoft/entra-sign-in.js';
import type { EntraUserToken } from '../../connectors/microsoft/entra-token-store.js';
import { captureIdJagSignIn, type IdpSignIn } from '../../upstream-auth/id-jag/idp-sign-in.js';
import { CircuitOpenError } from '../../lib/circuit-breaker.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { findConnection, findConnectionEvenDisabled, type Connection } from '../connections/manage-connections.js';
import { purposeOfState, staleAuthentication, type LoginPurpose } from '../login/login-purpose.js';
import { profileOf, visibleClaims, type ReceivedClaims } from '../login/received.js';
import { consumeLoginState } from '../login-state.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { describeIdpError, maskEmail } from '../traces/redact-trace.js';
import type { SsoProfile } from '../users/map-profile.js';
import { oidcConfig, oidcRedirectUri, rememberJwks } from './oidc-config.js';
import { verifySignedState } from './signed-state.js';
import type { IdpSessionFacts } from '../logout/end-idp-sessions.js';

export interface SsoSuccess {
  t: TenantCtx;
  conn: Connection;
  profile: SsoProfile;
  returnTo: string;
  /** Kept in the session so a logout at the IdP can find it (logout/end-idp-sessions.ts). */
  idpSession?: IdpSessionFacts;
  /** The user's Entra refresh token for the Microsoft connector, kept once the user is resolved (complete-login.ts). */
  entraToken?: EntraUserToken;
  /** Forced sign-in (re-authentication) or an admin's dry-run "Test sign-in" (login-purpose.ts). */
  purpose?: LoginPurpose;
  /** What the IdP sent, decoded and secret-free (shown by "Test sign-in"). */
  received?: ReceivedClaims;
  /** The user's IdP ID token and refresh token for `id-jag` upstreams, kept once the user is resolved. */
  idpSignIn?: IdpSignIn;
  /** OIDC: the ID token, kept (vault) for RP-initiated logout's `id_token_hint`, which Okta requires. */
  idToken?: string;
}

const GOOGLE = 'https://accounts.google.com';

/**
 * The OIDC callback, per-tenant (`pathTenant` set) or shared (`PUBLIC_URL/oidc/callback`, tenant from the state).
 * Order: signed, single-use state → same browser as the login started in (`browserProblem`, login CSRF) → tenant and
 * callback URL must be the ones the login started with → IdP error →
 * code exchange with PKCE, full ID token validation (iss, aud, azp, exp, iat, nonce, signature) by openid-client →
 * the tenant claims the connection requires (Entra `tid`, Google `hd`).
 */
export async function finishOidcLogin(
  s: Services,
  pathTenant: TenantCtx | null,
  query: URLSearchParams,
  browserProblem: (expectedBinding: unknown) => string | null,
): Promise<SsoSuccess> {
  const state = query.get('state');
  // The trace goes to the tenant of the URL, else (shared callback) to the tenant the verified state names.
  const bad = (detail: string, tenant = pathTenant) => Object.assign(new SsoError('oidc.state', 'bad_state', ssoMessages.expired, detail, 400, { hasState: !!state }), { tenant });
  const signedFor = state ? await verifySignedState(s, state) : null;
  if (!signedFor) throw bad('state missing, malformed or not signed by us');
  // Consumed before any other check: a state presented anywhere it does not belong is spent.
  const row = await consumeLoginState(s, signedFor, state!);
  if (!row || row.data.kind !== 'oidc' || row.tenantId !== signedFor.id) throw bad('state unknown, already used, or expired', pathTenant ?? signedFor);
  if (pathTenant && pathTenant.id !== signedFor.id) throw bad('state belongs to another tenant');
  const t = signedFor;
  // A callback URL captured in one browser must not sign another browser in (issue 8 §2): the state is spent either way.
  const problem = browserProblem(row.data.browser);
  if (problem) throw Object.assign(new SsoError('oidc.state', 'browser_mismatch', ssoMessages.otherBrowser, problem, 400, { protocol: 'oidc' }, row.connectionId), { tenant: t });
  const { requestedAt, ...purpose } = purposeOfState(row.data);
  // An admin's "Test sign-in" may try a connection that is not turned on yet.
  const conn = purpose.test ? await findConnectionEvenDisabled(t, row.connectionId) : await findConnection(t, row.connectionId);
  const testOf = purpose.test ? row.connectionId : null;
  const fail = (stage: string, code: string, detail: string, summary: Record<string, unknown> = {}) =>
    Object.assign(new SsoError(stage, code, ssoMessages.failed, detail, 400, { protocol: 'oidc', issuer: conn?.issuer, ...summary }, conn?.id ?? null), { tenant: t, testOf });
  if (!conn || conn.kind !== 'oidc') throw fail('oidc.state', 'connection_gone', 'the connection was removed or disabled during login');
  const expectedRedirect = String(row.data.redirectUri);
  const arrivedAt = pathTenant ? `${s.config.publicUrl}/t/${t.slug}/oidc/callback` : `${s.config.publicUrl}/oidc/callback`;
  if (expectedRedirect !== arrivedAt || expectedRedirect !== oidcRedirectUri(s, t, conn)) throw fail('oidc.state', 'wrong_callback', `login started for ${expectedRedirect}, came back to ${arrivedAt}`);
  const idpError = query.get('error');
  if (idpError) throw fail('oidc.authorize', 'idp_error', describeIdpError(idpError, query.get('error_description')), { error: idpError.slice(0, 64) });

  const config = await oidcConfig(s, t, conn).catch((err: Error) => {
    throw Object.assign(new SsoError('oidc.discovery', 'discovery_failed', ssoMessages.failed, err.message, 502, { issuer: conn.issuer }, conn.id), { tenant: t });
  });
  const currentUrl = new URL(expectedRedirect);
  currentUrl.search = query.toString();
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: String(row.data.verifier),
      expectedNonce: String(row.data.nonce),
      expectedState: state!,
      idTokenExpected: true,
    });
  } catch (err) {
    const e = err as Error & { code?: string; error?: string };
    // The IdP's token or JWKS endpoint failed repeatedly: refused at once, the trace says when it is tried again.
    const open = e instanceof CircuitOpenError ? e : e.cause instanceof CircuitOpenError ? e.cause : null;
    if (open) throw Object.assign(new SsoError('oidc.token', 'idp_unavailable', ssoMessages.failed, open.message, 502, { issuer: conn.issuer }, conn.id), { tenant: t });
    throw fail('oidc.token', 'token_rejected', `${e.code ?? e.error ?? e.name}: ${e.message}`.slice(0, 500));
  }
  rememberJwks(conn, config);
  const claims = tokens.claims()!;
  // Masked by recordSsoTrace like every subject and e-mail of a trace.
  const summary = { sub: String(claims.sub), email: maskEmail(claims.email), aud: claims.aud, claimNames: Object.keys(claims) };
  for (const [name, value] of Object.entries(conn.config.oidc!.requiredClaims)) {
    if (String(claims[name] ?? '').toLowerCase() !== value.toLowerCase()) {
      throw fail('oidc.claims', 'tenant_mismatch', `claim ${name} is ${String(claims[name] ?? '(missing)')}, the connection requires ${value}`, summary);
    }
  }
  // Google: only Workspace accounts of the customer's own domains (`hd`), never consumer accounts.
  if (conn.issuer === GOOGLE && !conn.config.allowedDomains.includes(String(claims.hd ?? '').toLowerCase())) {
    throw fail('oidc.claims', 'tenant_mismatch', `hd ${String(claims.hd ?? '(missing)')} is not an allowed domain`, summary);
  }
  let attrs: Record<string, unknown> = { ...claims };
  if (!claims.email && tokens.access_token && config.serverMetadata().userinfo_endpoint) {
    attrs = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
  }
  // Entra groups overage (more than ~200 groups): only a pointer to Graph is sent (`_claim_names`, or `hasgroups`).
  const overage = (claims._claim_names as Record<string, unknown> | undefined)?.groups !== undefined || claims.hasgroups === true;
  if (overage) delete attrs.groups;
  // With the Microsoft connector: keep the user's Entra refresh token, and read an overage's groups from Graph.
  const entra = await captureEntraSignIn(s, t, conn, tokens, claims, overage);
  if (overage && entra.groups) attrs.groups = entra.groups;
  else if (overage) s.logger.warn({ tenantId: t.id, connectionId: conn.id }, 'Entra groups overage: group memberships left unchanged (use SCIM groups or the Microsoft connector)');
  // We sent prompt=login and max_age=0: `auth_time` must show a sign-in after the request (OIDC Core §3.1.2.1).
  const authTime = typeof claims.auth_time === 'number' ? new Date(claims.auth_time * 1000) : null;
  const stale = staleAuthentication(requestedAt, authTime);
  if (stale) throw fail('oidc.claims', 'stale_authentication', stale, summary);
  const acr = [claims.acr, Array.isArray(claims.amr) ? `amr: ${claims.amr.join(' ')}` : undefined].filter((x) => typeof x === 'string').join(' · ');
  const received: ReceivedClaims = {
    protocol: 'oidc',
    issuer: String(claims.iss),
    subject: String(claims.sub),
    ...(authTime && { authnInstant: authTime.toISOString() }),
    ...(acr && { authnContext: acr }),
    ...(typeof claims.sid === 'string' && { sessionIndex: claims.sid }),
    attributes: visibleClaims(attrs),
  };
  const profile = profileOf({ ...received, attributes: attrs }, conn.config.mapping);
  if (overage && !entra.groups) delete profile.groups;
  // With an id-jag upstream on this connection: keep the ID token (and refresh token) to exchange for ID-JAGs.
  const idpSignIn = await captureIdJagSignIn(t, conn, tokens, claims);
  const idpSession = { idpSubject: String(claims.sub), ...(typeof claims.sid === 'string' && { idpSession: claims.sid }) };
  // Kept only where the IdP offers RP-initiated logout (its end_session_endpoint takes it as id_token_hint).
  const idToken = config.serverMetadata().end_session_endpoint ? tokens.id_token : undefined;
  return { t, conn, profile, returnTo: String(row.data.returnTo), idpSession, purpose, received, ...(entra.token && { entraToken: entra.token }), ...(idpSignIn && { idpSignIn }), ...(idToken && { idToken }) };
}
