import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * Every URL of a tenant's authorization server and its resources, built in one place so that the issuer, the PRM
 * `resource`, token `aud` and metadata stay byte-identical (RFC 8414 §3.3, RFC 9728 §3.3): no trailing slash.
 */
export const issuerUrl = (publicUrl: string, t: Pick<TenantCtx, 'slug'>) => `${publicUrl}/t/${t.slug}`;
export const mcpResourceUrl = (publicUrl: string, t: Pick<TenantCtx, 'slug'>) => `${issuerUrl(publicUrl, t)}/mcp`;
export const scimResourceUrl = (publicUrl: string, t: Pick<TenantCtx, 'slug'>) => `${issuerUrl(publicUrl, t)}/scim/v2`;

/** oidc-provider routes, relative to the issuer. All live under /oauth so they never collide with other capabilities. */
export const oauthRoutes = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  registration: '/oauth/register',
  jwks: '/oauth/jwks',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  device_authorization: '/oauth/device_authorization',
  code_verification: '/oauth/device',
  end_session: '/oauth/logout',
  userinfo: '/oauth/userinfo',
  pushed_authorization_request: '/oauth/par',
} as const;

/** Where the interaction (login + consent) for an authorization request is handled (src/consent). */
export const interactionPath = (slug: string, uid: string) => `/t/${slug}/oauth/interaction/${encodeURIComponent(uid)}`;

/** Scopes a tenant's AS knows: the MCP baseline (defined by the resource server) and `scim` for provisioning. */
export { MCP_SCOPE } from '../mcp/mcp-resource.js';
export const SCIM_SCOPE = 'scim';
