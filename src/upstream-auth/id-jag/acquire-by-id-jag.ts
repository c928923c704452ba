import * as oidc from 'openid-client';
import { fetchToken, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { JWT_BEARER, TOKEN_EXCHANGE, TOKEN_TYPE } from '../../oauth/cross-app/grant-types.js';
import type { Services } from '../../services.js';
import { findConnection, type Connection } from '../../sso/connections/manage-connections.js';
import { deleteIdpUserTokens, loadIdpUserToken, replaceIdpUserToken } from '../../sso/idp-tokens/idp-user-tokens.js';
import { oidcConfig } from '../../sso/oidc/oidc-config.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { asFetch } from '../as-fetch.js';
import { loadOAuthClient, type UpstreamOAuthClient } from '../upstream-oauth-client.js';
import { ID_JAG_SIGN_IN, type IdpSignIn } from './idp-sign-in.js';

/** A stored ID token this close to its `exp` is not sent: the IdP may see it expired by the time it checks. */
const ID_TOKEN_MARGIN_MS = 60_000;
/** IdP answers to a refresh after which the stored sign-in is useless (RFC 6749 §5.2): the user signs in again. */
const SIGN_IN_GONE = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'interaction_required', 'login_required', 'consent_required']);

export type IdJagFailureKind = 'sign_in' | 'idp_refused' | 'upstream_refused' | 'unavailable';

/** Why no token could be obtained; `code` is an OAuth error code (or ours), audited and named to the user. */
export class IdJagFailure extends Error {
  override name = 'IdJagFailure';
  constructor(
    readonly kind: IdJagFailureKind,
    readonly code: string,
    readonly description = '',
  ) {
    super(description ? `${code}: ${description}` : code);
  }
}

/** An OAuth error code or description from another server (shown to the user), bounded and without control characters. */
export const boundedOAuthText = (v: unknown, max: number): string => (typeof v === 'string' ? [...v].map((c) => (c < ' ' || c === '\u007f' ? ' ' : c)).join('').slice(0, max) : '');

/**
 * The gateway acting as an EMA client (issue 13 §3, decision 0027): the calling user's access token for an `id-jag`
 * upstream, obtained with no browser and no consent —
 * 1. RFC 8693 token exchange at the tenant's IdP (authenticated as the tenant's OIDC client there): `subject_token`
 *    = the user's IdP ID token from their SSO sign-in (a fresh one from the stored refresh token once it expired),
 *    `requested_token_type` = ID-JAG, `audience` = the upstream AS's issuer, `resource` = the upstream's MCP URL
 *    (IDJAG §4.3, EMA §5); the IdP's policy decides, and answers with an ID-JAG;
 * 2. RFC 7523 jwt-bearer grant at the upstream's AS with that ID-JAG as `assertion`, authenticated as the gateway's
 *    client there (pre-registered, or our client metadata document).
 * Each acquisition is audited (`upstream.id-jag.acquire`: user, upstream, IdP connection, outcome, error code),
 * never with a token in it; the caller caches the token per (tenant, user, upstream).
 */
export async function acquireByIdJag(s: Services, t: TenantCtx, upstreamId: string, userId: string): Promise<OAuthTokens> {
  const row = await t.db.upstreamOAuthClient.findFirst({ where: { upstreamId }, select: { idJagConnectionId: true } });
  const idp = row?.idJagConnectionId ?? null;
  const audit = (outcome: 'success' | 'failure' | 'denied', error?: string) =>
    s.audit.record(t, {
      actor: { kind: 'system' },
      action: 'upstream.id-jag.acquire',
      target: { kind: 'upstream', id: upstreamId },
      outcome,
      detail: { userId, upstreamId, idpConnectionId: idp, ...(error && { error }) },
    });
  try {
    const tokens = await obtain(s, t, upstreamId, userId, idp);
    await audit('success');
    return tokens;
  } catch (err) {
    const f = err instanceof IdJagFailure ? err : new IdJagFailure('unavailable', 'internal_error');
    if (!(err instanceof IdJagFailure)) s.logger.warn({ tenantId: t.id, upstreamId, err: String(err).slice(0, 200) }, 'ID-JAG acquisition failed unexpectedly');
    // Refusals (the user's sign-in, the IdP's policy, the upstream's verdict) are denials; outages are failures.
    await audit(f.kind === 'unavailable' ? 'failure' : 'denied', f.code);
    throw f;
  }
}

async function obtain(s: Services, t: TenantCtx, upstreamId: string, userId: string, idp: string | null): Promise<OAuthTokens> {
  const client = await loadOAuthClient(s, t, upstreamId);
  const conn = idp ? await findConnection(t, idp) : null;
  if (!conn || conn.kind !== 'oidc') throw new IdJagFailure('idp_refused', 'idp_unavailable', 'the identity provider connection of this upstream was removed or disabled');
  let config: oidc.Configuration;
  try {
    config = await oidcConfig(s, t, conn);
  } catch {
    throw new IdJagFailure('unavailable', 'idp_unreachable');
  }
  const subjectToken = await currentIdToken(s, t, conn, config, userId);
  const idJag = await exchangeForIdJag(config, client, subjectToken);
  return redeemAtUpstream(s, client, idJag);
}

/** The user's IdP ID token, refreshed with their IdP refresh token when it has (nearly) expired. */
async function currentIdToken(s: Services, t: TenantCtx, conn: Connection, config: oidc.Configuration, userId: string): Promise<string> {
  const stored = await loadIdpUserToken<IdpSignIn>(s, t, ID_JAG_SIGN_IN, userId, conn.id);
  if (!stored) throw new IdJagFailure('sign_in', 'no_sign_in', 'no company sign-in is stored for you');
  // The IdP's clock judges its ID token (as for SSO logins, src/sso/oidc/oidc-config.ts): the system clock here.
  if (stored.value.idTokenExpiresAt - Date.now() > ID_TOKEN_MARGIN_MS) return stored.value.idToken;
  const gone = async (code: string) => {
    await deleteIdpUserTokens(t, { secretId: stored.secretId });
    return new IdJagFailure('sign_in', code, 'your company sign-in has expired');
  };
  if (!stored.value.refreshToken) throw await gone('sign_in_expired');
  let refreshed: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
  try {
    // openid-client validates the new ID token (signature, iss, aud, exp, iat) as at login.
    refreshed = await oidc.refreshTokenGrant(config, stored.value.refreshToken, { scope: 'openid' });
  } catch (err) {
    if (err instanceof oidc.ResponseBodyError && SIGN_IN_GONE.has(err.error)) throw await gone(boundedOAuthText(err.error, 64));
    throw new IdJagFailure('unavailable', 'idp_refresh_failed');
  }
  const exp = refreshed.claims()?.exp;
  if (!refreshed.id_token || typeof exp !== 'number') throw await gone('no_id_token');
  const next: IdpSignIn = { idToken: refreshed.id_token, idTokenExpiresAt: exp * 1000, refreshToken: refreshed.refresh_token ?? stored.value.refreshToken };
  await replaceIdpUserToken(s, t, stored.secretId, next);
  return next.idToken;
}

/** Step 1: RFC 8693 at the IdP for an ID-JAG (IDJAG §4.3): the IdP's policy is applied here. */
async function exchangeForIdJag(config: oidc.Configuration, client: UpstreamOAuthClient, subjectToken: string): Promise<string> {
  let res: oidc.TokenEndpointResponse;
  try {
    res = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
      requested_token_type: TOKEN_TYPE.idJag,
      subject_token: subjectToken,
      subject_token_type: TOKEN_TYPE.idToken,
      // EMA §5: `audience` MUST be the resource AS's issuer; `resource` the MCP server it protects.
      audience: client.asUrl,
      resource: client.resource,
      ...(client.scope && { scope: client.scope }),
    });
  } catch (err) {
    if (err instanceof oidc.ResponseBodyError) throw new IdJagFailure('idp_refused', boundedOAuthText(err.error, 64) || 'refused', boundedOAuthText(err.error_description, 200));
    throw new IdJagFailure('unavailable', 'idp_unreachable');
  }
  if ((res as { issued_token_type?: unknown }).issued_token_type !== TOKEN_TYPE.idJag || !res.access_token) {
    throw new IdJagFailure('idp_refused', 'unexpected_response', 'the identity provider did not return an ID-JAG');
  }
  return res.access_token;
}

/** Step 2: RFC 7523 jwt-bearer at the upstream AS with the ID-JAG, through the MCP SDK's token request. */
async function redeemAtUpstream(s: Services, client: UpstreamOAuthClient, idJag: string): Promise<OAuthTokens> {
  // Only what fetchToken reads: the grant's parameters and the client's credentials (auth method chosen from the
  // AS metadata, as for the code flow and refresh).
  const provider = {
    clientMetadata: { redirect_uris: [], ...(client.scope && { scope: client.scope }) },
    clientInformation: () => client.clientInformation,
    prepareTokenRequest: (scope?: string) => new URLSearchParams({ grant_type: JWT_BEARER, assertion: idJag, ...(scope && { scope }) }),
  } as unknown as OAuthClientProvider;
  try {
    return await fetchToken(provider, client.asUrl, { metadata: client.metadata, resource: new URL(client.resource), fetchFn: asFetch(s.egress) });
  } catch (err) {
    // A 5xx (or non-JSON answer) comes back as `server_error`: an outage, not a verdict.
    if (err instanceof OAuthError && err.errorCode !== 'server_error' && err.errorCode !== 'temporarily_unavailable') throw new IdJagFailure('upstream_refused', boundedOAuthText(err.errorCode, 64) || 'refused', boundedOAuthText(err.message, 200));
    throw new IdJagFailure('unavailable', 'upstream_as_unreachable');
  }
}
