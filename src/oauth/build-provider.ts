import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, page } from '../consent/html.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { auditIssuance } from './audit-issuance.js';
import { answerJwtTokenRequests } from './jwt-token-endpoints.js';
import { countTokenFailures } from './token-failure-limit.js';
import { allowCimdFetch, cimdFetch } from './cimd-fetch.js';
import { ADMIN_REGISTERED, extraClientProperties, ID_JAG_IDPS, PURPOSE, validateClientMetadata } from './client-policy.js';
import { vaultClientSecrets } from './client-secrets.js';
import { deviceFlowPages } from './device-pages.js';
import { holdErrorRedirects } from './hold-error-redirects.js';
import { issuerUrl, MCP_SCOPE, mcpResourceUrl, oauthRoutes, SCIM_SCOPE, scimResourceUrl } from './oauth-urls.js';
import { carriedClaims, registerCrossAppGrants } from './cross-app/register-cross-app-grants.js';
import { isCrossAppGrant, TOKEN_EXCHANGE } from './cross-app/grant-types.js';
import { prismaAdapterFactory } from './prisma-adapter.js';
import { shouldRotate } from './refresh-rotation.js';
import { ACCESS_TOKEN_TTL_S, mcpResourceServer } from './resource-servers.js';
import { loadSigningKeys } from './signing-keys.js';

/** The header Koa reads ctx.ip from inside a tenant's provider; only the route adapter ever sets it (oauth-routes.ts). */
export const PROVIDER_CLIENT_IP_HEADER = 'x-sso-bridge-client-ip';

export { ACCESS_TOKEN_TTL_S } from './resource-servers.js';
export const SCIM_TOKEN_TTL_S = 2 * 3600; // Entra's provisioning service expects 1–6 h client-credentials tokens
const DAY = 24 * 3600;

type Client = { clientId: string; clientIdMetadataDocument?: boolean; grantTypeAllowed(g: string): boolean } & Record<string, unknown>;

/**
 * oidc-provider's own session must never stand in for the corporate SSO session: every authorization request goes
 * through our interaction, which checks the SSO session (and consent) afresh.
 */
function ssoOnEveryAuthorization() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.push(
    new interactionPolicy.Check('sso_session', 'the corporate SSO session is checked on every authorization', 'login_required', (ctx) =>
      ctx.oidc.result?.login ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT,
    ),
  );
  return policy;
}

/** Builds the authorization server of one tenant (issuer PUBLIC_URL/t/{slug}). */
export async function buildProvider(s: Services, t: TenantCtx): Promise<Provider> {
  const issuer = issuerUrl(s.config.publicUrl, t);
  const mcp = mcpResourceUrl(s.config.publicUrl, t);
  const scim = scimResourceUrl(s.config.publicUrl, t);
  const { keys, cookieKeys } = await loadSigningKeys(s, t);
  const secure = s.config.publicUrl.startsWith('https://');
  const isScimClient = (client: Client) => client[PURPOSE] === 'scim' && !client.clientIdMetadataDocument;
  const heldRedirects = holdErrorRedirects();

  const configuration: Configuration = {
    adapter: prismaAdapterFactory(t, {
      clock: s.clock,
      secrets: vaultClientSecrets(s.vault),
      onGrantRevoked: (tt, grantId) => s.bus.publish({ type: 'grant.revoked', tenantId: tt.id, grantId }),
    }),
    jwks: { keys: keys as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      // One name per tenant: two tenants' provider cookies in one browser never collide.
      // The session cookie is Path=/ and host-only, so on https it takes the __Host- prefix (RFC 6265bis §4.1.3.2).
      names: { session: `${secure ? '__Host-' : ''}sb_op_${t.id}`, interaction: `sb_oi_${t.id}`, resume: `sb_or_${t.id}` },
      keys: cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', secure },
      short: { httpOnly: true, sameSite: 'lax', secure },
    },
    scopes: ['openid', 'offline_access', MCP_SCOPE, SCIM_SCOPE],
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    async findAccount(_ctx, sub) {
      const user = await s.accounts.find(t, sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({ sub: user.id, email: user.email ?? undefined, name: user.displayName ?? undefined }),
      };
    },
    // PKCE for every client, S256 only (oidc-provider 9 implements no other method): OAuth 2.1 §4.1.1, MCP AUTHZ.
    pkce: { required: () => true },
    clientBasedCORS: () => true,
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
    extraClientMetadata: { properties: extraClientProperties, validator: validateClientMetadata },
    responseTypes: ['code'],
    routes: oauthRoutes,
    interactions: { url: async (_ctx, interaction) => `${issuer}/oauth/interaction/${interaction.uid}`, policy: ssoOnEveryAuthorization() },
    // Consent is ours (src/consent): an existing grant is reused only when the interaction just produced it.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && Boolean(code.accountId),
    // Tokens outlive the browser sign-in: oidc-provider's session is only the vehicle of one authorization, and the
    // user's access ends through our revocation (SCIM, consent withdrawal, grant revocation), not a session timeout.
    expiresWithSession: async () => false,
    rotateRefreshToken: () => shouldRotate(),
    extraTokenClaims: async (_ctx, token) => ({ ...carriedClaims(token), tid: t.id, ...('grantId' in token && token.grantId ? { gid: token.grantId } : {}) }),
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_S,
      AuthorizationCode: 60,
      ClientCredentials: SCIM_TOKEN_TTL_S,
      DeviceCode: 600,
      // A cross-app grant backs one access token (no refresh token): it ends with it.
      Grant: (ctx) => (isCrossAppGrant(ctx?.oidc?.params?.grant_type) ? ACCESS_TOKEN_TTL_S : 90 * DAY),
      IdToken: 3600,
      Interaction: 1800,
      RefreshToken: 14 * DAY,
      Session: 3600,
    },
    renderError: async (ctx, out, err) => {
      ctx.type = 'html';
      const rows = Object.entries(out).map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`);
      ctx.body = heldRedirects.page(t.name, out, err) ?? page(t.name, 'Sign-in could not continue', rows.join('\n'));
    },
    features: {
      devInteractions: { enabled: false },
      // Not part of MCP authorization: PAR would bypass the default-scope step, and our resource servers accept
      // Bearer tokens only (a DPoP-bound token would need proof checks they do not do).
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: false },
      // RFC 7009 §2.1: a client may revoke only its own tokens; introspection is for confidential clients' own tokens.
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' && token.clientId === client.clientId,
      },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true, ...deviceFlowPages(t.name) },
      // No registration management endpoint, so no registration access token to hand out.
      registration: { enabled: t.settings.dynamicClientRegistration, initialAccessToken: false, issueRegistrationAccessToken: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, client, oneOf) => oneOf ?? (isScimClient(client as unknown as Client) ? scim : mcp),
        // Refresh keeps the granted resource (RFC 8707 §2.2): the client need not repeat it.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource, client) => {
          const c = client as unknown as Client;
          const machine = ctx.oidc.params?.grant_type === 'client_credentials';
          if (resource === mcp && !isScimClient(c) && !machine) {
            return mcpResourceServer(mcp);
          }
          if (resource === scim && isScimClient(c) && machine) {
            return { scope: SCIM_SCOPE, audience: scim, accessTokenTTL: SCIM_TOKEN_TTL_S, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          }
          throw new errors.InvalidTarget();
        },
      },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        allowFetch: async (_ctx: KoaContextWithOIDC, clientId: string) => allowCimdFetch(s.config, clientId),
        // Documents may not claim what only administrators grant.
        // jwt-bearer stays open to documents: the IdP's policy names the client in each ID-JAG (EMA §5).
        // A document must name its client (MCP 2025-11-25, "Client ID Metadata Documents": client_id, client_name and
        // redirect_uris): the consent page shows that name, and a nameless client would be shown by its URL alone.
        allowClient: async (_ctx: KoaContextWithOIDC, client: Client) =>
          [PURPOSE, ADMIN_REGISTERED, ID_JAG_IDPS].every((own) => client[own] === undefined) && !client.grantTypeAllowed('client_credentials') &&
          !client.grantTypeAllowed(TOKEN_EXCHANGE) && typeof client.clientName === 'string' && client.clientName.trim() !== '',
        cacheDuration: { min: 30, max: 3600 },
      },
    } as Configuration['features'],
    fetch: cimdFetch(s.config) as Configuration['fetch'],
  };

  const provider = new Provider(issuer, configuration);
  // URLs are built from PUBLIC_URL by the route adapter (forwarded headers it sets itself). Koa's ctx.ip (our audit
  // events, deviceInfo) is read from PROVIDER_CLIENT_IP_HEADER, which the route adapter always overwrites with the
  // address Express computed under TRUST_PROXY: a header the client sent never reaches it.
  provider.proxy = true;
  provider.proxyIpHeader = PROVIDER_CLIENT_IP_HEADER;
  provider.maxIpsCount = 1;
  provider.on('server_error', (_ctx, err) => s.logger.error({ err, tenantId: t.id }, 'oauth server error'));
  heldRedirects.listen(provider);
  auditIssuance(s, t, provider);
  countTokenFailures(s, t, provider);
  // Inside the failure count: a JWT it answers is no failure.
  answerJwtTokenRequests(s, t, provider);
  registerCrossAppGrants(s, t, provider);
  return provider;
}
