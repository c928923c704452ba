import type { AdapterPayload } from 'oidc-provider';
import type { RequestHandler } from 'express';
import { RateLimiter, rateRules, tenantAndNetwork, tooManyRequests } from '../http/rate-limit.js';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Services } from '../services.js';
import { ADMIN_REGISTERED, PURPOSE } from './client-policy.js';

/** A self-registered client nobody has granted within this time is deleted (its row expires). */
export const UNUSED_CLIENT_TTL_MS = 24 * 3_600_000;
/** At most this many self-registered clients per tenant may wait unused at once. */
export const MAX_UNUSED_CLIENTS = 500;

/**
 * Dynamic client registration is open to anyone on the internet (RFC 7591 §5 leaves abuse protection to the server):
 * - per (tenant, client network — an IPv6 /64) and per tenant, counted in the database so the limits hold however
 *   many nodes answer (src/http/rate-limit.ts);
 * - at most MAX_UNUSED_CLIENTS registered-but-never-granted clients per tenant;
 * - such clients expire after UNUSED_CLIENT_TTL_MS (the adapter stamps the expiry, the first grant clears it, and the
 *   cleanup job deletes expired rows).
 */
export function registrationLimit(s: Services): RequestHandler {
  const limiter = new RateLimiter(s.db, s.clock);
  return async (req, res, next) => {
    const t = tenantOf(res);
    const verdict = await limiter.hit(tenantAndNetwork(rateRules.dcrNet, rateRules.dcrTenant, t.id, req.ip));
    if (!verdict.ok) {
      tooManyRequests(res, verdict).json({ error: 'too_many_requests', error_description: 'Too many client registrations; try again later' });
      return;
    }
    const now = s.clock.now();
    const unused = await t.db.oidcPayload.count({ where: { model: 'Client', expiresAt: { gt: now } } });
    if (unused >= MAX_UNUSED_CLIENTS) {
      res.status(429).set('Retry-After', '3600');
      res.json({ error: 'too_many_requests', error_description: 'Too many unused registered clients; try again later' });
      return;
    }
    next();
  };
}

/** The expiry the adapter gives a client row: none for admin-registered clients, the unused TTL for self-registered. */
export function unusedClientExpiry(payload: AdapterPayload, now: Date): Date | null {
  const p = payload as Record<string, unknown>;
  if (p[ADMIN_REGISTERED] !== undefined || p[PURPOSE] !== undefined) return null;
  return new Date(now.getTime() + UNUSED_CLIENT_TTL_MS);
}
