import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * One audit event per successful token response: who (user or machine client), which client, which grant type and
 * resource. Never the tokens. Nobody waits for its commit: it is batched in the background (AuditLog.recordInBackground,
 * which logs a failed write), so a slow audit write never delays a client — but the response waits until the event is
 * accepted, which is immediate unless the audit backlog is over its cap: then token issuance slows to the database's
 * pace instead of the event being dropped (back-pressure, docs/decisions/0015).
 */
export function auditIssuance(s: Services, t: TenantCtx, provider: Provider): void {
  const accepted = new WeakMap<object, Promise<void>>();
  provider.use(async (ctx, next) => {
    await next();
    await accepted.get(ctx);
  });
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const { client, entities, params } = ctx.oidc;
    const token = entities.AccessToken ?? entities.ClientCredentials;
    const accountId = entities.AccessToken?.accountId ?? null;
    s.metrics.tokenIssued(String(params?.grant_type ?? ''));
    accepted.set(ctx, s.audit.recordInBackground(t, {
      actor: accountId ? { kind: 'user', id: accountId } : { kind: 'oauth-client', id: client?.clientId ?? null },
      action: 'oauth.token.issue',
      target: { kind: 'oauth-client', id: client?.clientId ?? null },
      outcome: 'success',
      request: { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined },
      detail: {
        grantType: String(params?.grant_type ?? ''),
        resource: token?.aud ?? null,
        scope: token?.scope ?? null,
        grantId: entities.Grant?.jti ?? entities.AccessToken?.grantId ?? null,
      },
    }));
  });
}
