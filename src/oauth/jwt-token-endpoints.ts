import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AccessTokenInfo } from './access-token.js';
import { providerRequest } from './audit-issuance.js';
import { issuerUrl, mcpResourceUrl, scimResourceUrl } from './oauth-urls.js';
import { revokeAccessToken } from './revoke-access-token.js';

type Route = 'revocation' | 'introspection';

/**
 * RFC 7009 revocation and RFC 7662 introspection of our access tokens, which are JWTs (RFC 9068). oidc-provider
 * refuses any JWT at both endpoints with `unsupported_token_type` — after it authenticated the client — so a client
 * could not end its access token at sign-out, and a confidential client could not ask whether one is still good. This
 * middleware takes exactly those refusals (told by the routes' error events, whatever the response's media type) and
 * answers them itself, with the client oidc-provider authenticated. It sits inside the failure count
 * (token-failure-limit.ts, registered before it): an answered request is no failure.
 *
 * The token counts only if the tenant's verifier accepts it now for one of the tenant's resources (signature, issuer,
 * tenant, expiry, grant, user, not revoked) and it was issued to the requesting client (RFC 7009 §2.1, RFC 7662 §4;
 * the same policy build-provider.ts gives oidc-provider's own tokens). Anything else — forged, expired, another
 * tenant's or another client's — is answered as an unknown token: revocation 200 with no effect (RFC 7009 §2.2),
 * introspection `{"active":false}` (RFC 7662 §2.2), so neither tells a prober which tokens exist.
 *
 * Successful revocations are audited as `oauth.token.revoke`, refresh tokens (oidc-provider's own) included.
 */
export function answerJwtTokenRequests(s: Services, t: TenantCtx, provider: Provider): void {
  const refused = new WeakSet<object>();
  const mark = (ctx: KoaContextWithOIDC, err: unknown) => {
    if (err instanceof errors.UnsupportedTokenType) refused.add(ctx);
  };
  provider.on('revocation.error', mark);
  provider.on('introspection.error', mark);
  provider.use(async (koa, next) => {
    await next();
    const ctx = koa as KoaContextWithOIDC;
    const route = ctx.oidc?.route as Route | undefined;
    if (route !== 'revocation' && route !== 'introspection') return;
    const client = ctx.oidc.client;
    if (!refused.has(ctx)) {
      if (route === 'revocation' && ctx.status === 200) await auditRefreshRevocation(s, t, ctx);
      return;
    }
    const token = ctx.oidc.params?.token;
    if (!client || typeof token !== 'string') return;
    const info = await ownAccessToken(s, t, token, client.clientId);
    ctx.status = 200;
    if (route === 'revocation') {
      ctx.body = '';
      if (info) {
        await revokeAccessToken(s, t, info);
        await auditRevocation(s, t, ctx, info.userId, 'access_token', info.grantId);
      }
      return;
    }
    ctx.type = 'application/json';
    ctx.body = info && client.clientAuthMethod !== 'none' ? introspection(s, t, info) : { active: false };
  });
}

/** The token if it is one of this tenant's live access tokens issued to `clientId`; null otherwise. */
async function ownAccessToken(s: Services, t: TenantCtx, token: string, clientId: string): Promise<AccessTokenInfo | null> {
  for (const resource of [mcpResourceUrl(s.config.publicUrl, t), scimResourceUrl(s.config.publicUrl, t)]) {
    const info = await s.accessTokens.verify(t, token, resource);
    if (info) return info.clientId === clientId ? info : null;
  }
  return null;
}

/** RFC 7662 §2.2 for an active token: what a resource server needs to decide, nothing about the grant's internals. */
function introspection(s: Services, t: TenantCtx, info: AccessTokenInfo) {
  return {
    active: true,
    client_id: info.clientId,
    scope: info.scopes.join(' '),
    sub: info.userId ?? info.clientId,
    aud: info.audience,
    iss: issuerUrl(s.config.publicUrl, t),
    exp: Math.floor(info.expiresAt.getTime() / 1000),
    iat: Math.floor(info.issuedAt.getTime() / 1000),
    jti: info.tokenId,
    token_type: 'Bearer',
  };
}

/** A refresh token oidc-provider revoked: its revocation ended the grant (the policy is build-provider.ts's). */
async function auditRefreshRevocation(s: Services, t: TenantCtx, ctx: KoaContextWithOIDC) {
  const token = ctx.oidc.entities.RefreshToken;
  if (!token || token.clientId !== ctx.oidc.client?.clientId) return;
  await auditRevocation(s, t, ctx, token.accountId ?? null, 'refresh_token', token.grantId ?? null);
}

async function auditRevocation(s: Services, t: TenantCtx, ctx: KoaContextWithOIDC, userId: string | null, revoked: 'access_token' | 'refresh_token', grantId: string | null) {
  const clientId = ctx.oidc.client?.clientId ?? null;
  await s.audit.record(t, {
    actor: userId ? { kind: 'user', id: userId } : { kind: 'oauth-client', id: clientId },
    action: 'oauth.token.revoke',
    target: { kind: 'oauth-client', id: clientId },
    outcome: 'success',
    request: providerRequest(ctx),
    detail: { revoked, grantId },
  });
}
