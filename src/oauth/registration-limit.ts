import type { RequestHandler } from 'express';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Clock } from '../lib/clock.js';

export const REGISTRATIONS_PER_WINDOW = 20;
const WINDOW_MS = 10 * 60_000;
const MAX_KEYS = 10_000;

/**
 * Dynamic client registration is open to anyone on the internet: a fixed-window limit per (tenant, client IP) on each
 * node keeps a script from filling the client table (RFC 7591 §5 leaves abuse protection to the server).
 */
export function registrationLimit(clock: Clock): RequestHandler {
  const windows = new Map<string, { start: number; count: number }>();
  return (req, res, next) => {
    const now = clock.now().getTime();
    const key = `${tenantOf(res).id}|${req.ip ?? ''}`;
    let w = windows.get(key);
    if (!w || now - w.start >= WINDOW_MS) {
      windows.delete(key);
      if (windows.size >= MAX_KEYS) windows.delete(windows.keys().next().value!);
      windows.set(key, (w = { start: now, count: 0 }));
    }
    if (++w.count > REGISTRATIONS_PER_WINDOW) {
      res.status(429).set('Retry-After', String(Math.ceil((w.start + WINDOW_MS - now) / 1000)));
      res.json({ error: 'too_many_requests', error_description: 'Too many client registrations; try again later' });
      return;
    }
    next();
  };
}
