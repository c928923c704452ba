import type { Request } from 'express';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { RateLimiter, rateRules, tenantAndNetwork, type RateRule } from '../http/rate-limit.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/** The counters a token request is checked against: its tenant and its client network (issue 8 §6). */
export const tokenFailureLimits = (t: TenantCtx, ip: string | undefined): [RateRule, string][] =>
  tenantAndNetwork(rateRules.tokenFailNet, rateRules.tokenFailTenant, t.id, ip);

/**
 * The endpoints that authenticate clients share the failure count (RFC 6749 §2.3): the token endpoint, revocation
 * (RFC 7009) and introspection (RFC 7662). A failure at any of them — a wrong secret, a client metadata document that
 * does not resolve — counts against the same limits, so none of them is an unlimited way to guess secrets or to
 * make the server fetch documents.
 */
export const CLIENT_AUTH_ROUTES: ReadonlySet<string> = new Set(['token', 'revocation', 'introspection']);

/**
 * Counts every failed token, revocation or introspection request before its response is written: Koa writes the
 * response only after this middleware resolves, so a client that sends its next request on reading the error is
 * always checked against a count that includes it. Counting after the response raced that next request on another
 * node.
 */
export function countTokenFailures(s: Services, t: TenantCtx, provider: Provider): void {
  // Shares the token endpoint's view: a count reaching a limit is told to every node (rate-view.ts).
  const limiter = new RateLimiter(s.db, s.clock, s.rateView);
  provider.use(async (ctx, next) => {
    await next();
    const route = (ctx as KoaContextWithOIDC).oidc?.route;
    if (route === undefined || !CLIENT_AUTH_ROUTES.has(route) || ctx.status < 400) return;
    // ctx.req is the Express request the route adapter handed over: its `ip` honours the trusted-proxy setting.
    await limiter.hit(tokenFailureLimits(t, (ctx.req as Request).ip));
  });
}
