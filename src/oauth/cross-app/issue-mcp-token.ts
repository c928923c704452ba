import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { MCP_SCOPE } from '../oauth-urls.js';
import { mcpResourceServer } from '../resource-servers.js';

export interface McpTokenRequest {
  userId: string;
  resource: string;
  scope: string;
  /** Short grant-type label stored with the token (oidc-provider's `gty`). */
  gty: string;
  /** RFC 8693 §4.1 actor claim. */
  act?: Record<string, unknown>;
}

/**
 * Scope of a cross-app token: what the client asked for (the MCP baseline when it asked for nothing) ∩ what the
 * assertion allows (when it says) ∩ what this resource offers. RFC 6749 §3.3 lets the AS narrow; an empty result is
 * `invalid_scope` (EMA §7.6.2 reads the subset rule inverted, see docs/cross-app-access.md).
 */
export function narrowScope(requested: unknown, allowedByAssertion: string[] | null): string {
  const asked = typeof requested === 'string' && requested.trim() ? requested.split(' ').filter(Boolean) : [MCP_SCOPE];
  const granted = asked.filter((sc) => sc === MCP_SCOPE && (allowedByAssertion === null || allowedByAssertion.includes(sc)));
  if (!granted.length) throw new errors.InvalidScope('no requested scope is allowed', asked.join(' '));
  return [...new Set(granted)].join(' ');
}

/**
 * Issues the same access token the browser flow ends with — a Grant for (user, client, resource, scope) and an RFC 9068
 * JWT with `aud` the tenant's MCP resource and `gid` that grant — so the gateway, group permissions and revocation
 * treat it exactly alike. No refresh token: the client presents a fresh assertion (IDJAG §5.2, RFC 8693 §2.2.1).
 */
export async function issueMcpToken(ctx: KoaContextWithOIDC, r: McpTokenRequest) {
  const { provider } = ctx.oidc;
  const client = ctx.oidc.client!;
  const grant = new provider.Grant({ accountId: r.userId, clientId: client.clientId });
  grant.addResourceScope(r.resource, r.scope);
  await grant.save();
  const at = new provider.AccessToken({ accountId: r.userId, client, grantId: grant.jti, gty: r.gty, scope: r.scope, expiresWithSession: false });
  at.resourceServer = new provider.ResourceServer(r.resource, mcpResourceServer(r.resource));
  if (r.act) at.extra = { act: r.act };
  ctx.oidc.entity('Grant', grant);
  ctx.oidc.entity('AccessToken', at);
  const value = await at.save();
  return { access_token: value, token_type: 'Bearer', expires_in: at.expiration, scope: r.scope };
}
