import express, { Router } from 'express';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Services } from '../services.js';
import { GtrError } from './gtr-error.js';
import { receiveSecurityEvent, SSF_PATH } from './receive-security-event.js';
import { GTR_PATH, revokeGlobalTokens } from './revoke-global-tokens.js';

/**
 * A `sub_id` or a SET is a few hundred bytes; nothing bigger is a revocation request. The body is read as text and
 * parsed only after the caller authenticated, so a malformed body from a stranger is a 401 (and audited) like any other.
 */
const text = express.text({ limit: '8kb', type: () => true });

/**
 * `POST /t/{slug}/global-token-revocation`: 204 when done; 400/401/403/404 per
 * draft-parecki-oauth-global-token-revocation §2.3, with a JSON error body that names the check only in general terms.
 * `POST /t/{slug}/ssf/events`: RFC 8935 push delivery of a SET; 202 when accepted, else 400 with `err` (§2.3).
 */
export function gtrRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  const input = (req: express.Request) => ({
    authorization: req.get('authorization'),
    body: typeof req.body === 'string' ? req.body : '',
    ip: req.ip,
    userAgent: req.get('user-agent'),
  });
  r.post(`/${GTR_PATH}`, text, async (req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await revokeGlobalTokens(s, tenantOf(res), input(req));
      res.status(204).end();
    } catch (err) {
      if (!(err instanceof GtrError)) throw err;
      if (err.status === 429) return void res.status(429).set('Retry-After', String(err.retryAfterS ?? 60)).json({ error: 'too_many_requests' });
      if (err.status === 401) res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      res.status(err.status).json({ error: ERROR_CODES[err.status] });
    }
  });
  r.post(`/${SSF_PATH}`, text, async (req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await receiveSecurityEvent(s, tenantOf(res), input(req));
      res.status(202).end();
    } catch (err) {
      if (!(err instanceof GtrError)) throw err;
      if (err.status === 429) return void res.status(429).set('Retry-After', String(err.retryAfterS ?? 60)).json({ err: 'too_many_requests' });
      // RFC 8935 §2.4: an unknown subject is still a valid SET, delivered; nothing to do for it here.
      if (err.status === 404) return void res.status(202).end();
      res.status(400).json({ err: err.status === 401 ? 'authentication_failed' : 'invalid_request', description: err.status === 401 ? 'SET not verified' : 'SET not usable' });
    }
  });
  return r;
}

const ERROR_CODES = { 400: 'invalid_request', 401: 'invalid_token', 403: 'forbidden', 404: 'user_not_found', 429: 'too_many_requests' } as const;
