import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { currentRotationPlan } from './refresh-rotation.js';

/**
 * The request fields of an audit event raised inside a tenant's provider: ctx.ip is the address Express computed
 * (the route adapter hands it over, build-provider.ts) and ctx.req is the Express request, which carries the id of
 * the request's log line.
 */
export function providerRequest(ctx: KoaContextWithOIDC): { ip: string; userAgent: string | undefined; requestId: string } {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined, requestId: String((ctx.req as { id?: unknown }).id ?? '') };
}

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
    // Koa writes the response after this middleware resolves: the line is committed before the client sees it.
    const plan = currentRotationPlan();
    if (plan?.kind === 'grace') await auditGraceReplay(s, t, ctx as KoaContextWithOIDC, plan.grantId);
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
      request: providerRequest(ctx),
      detail: {
        grantType: String(params?.grant_type ?? ''),
        resource: token?.aud ?? null,
        scope: token?.scope ?? null,
        grantId: entities.Grant?.jti ?? entities.AccessToken?.grantId ?? null,
      },
    }));
  });
}

/**
 * A used refresh token presented again within the grace window is answered with its successor: harmless for a
 * client's retry, but the only trace a thief racing the client within the window would leave (issue 8 §6).
 */
async function auditGraceReplay(s: Services, t: TenantCtx, ctx: KoaContextWithOIDC, grantId: string | null) {
  const clientId = ctx.oidc?.client?.clientId ?? null;
  await s.audit.record(t, {
    actor: { kind: 'oauth-client', id: clientId },
    action: 'oauth.refresh.grace_replay',
    target: { kind: 'oauth-grant', id: grantId },
    outcome: ctx.status === 200 ? 'success' : 'failure',
    request: providerRequest(ctx),
  });
}
