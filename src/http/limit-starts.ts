import type { Request, RequestHandler, Response } from 'express';
import type { Services } from '../services.js';
import { RateLimiter, rateRules, tenantAndNetwork, tooManyRequests, type RateVerdict } from './rate-limit.js';
import { tenantOf } from './resolve-tenant.js';

type Limited = Extract<RateVerdict, { ok: false }>;

/**
 * Counts one unauthenticated flow start per request — an SSO login (`/oidc/login`, `/saml/login`), an authorization
 * request, a device authorization — per (tenant, client network) and per tenant, across nodes (rate-limit.ts, issue 8
 * §6): each of them writes a row before anyone signed in. Over the limit `refuse` answers 429 with Retry-After in the
 * endpoint's own format and nothing runs. `exempt` (when given) lets requests that are not anonymous through uncounted.
 */
export function limitStarts(
  s: Services,
  refuse: (req: Request, res: Response, verdict: Limited) => void,
  exempt?: (req: Request, res: Response) => Promise<boolean>,
): RequestHandler {
  const limiter = new RateLimiter(s.db, s.clock);
  return async (req, res, next) => {
    if (exempt && (await exempt(req, res))) return next();
    const t = tenantOf(res);
    const verdict = await limiter.hit(tenantAndNetwork(rateRules.startNet, rateRules.startTenant, t.id, req.ip));
    if (verdict.ok) return next();
    tooManyRequests(res, verdict).set('Cache-Control', 'no-store');
    refuse(req, res, verdict);
  };
}
