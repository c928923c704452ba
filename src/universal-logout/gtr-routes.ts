import express, { Router } from 'express';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Services } from '../services.js';
import { GtrError } from './gtr-error.js';
import { GTR_PATH, revokeGlobalTokens } from './revoke-global-tokens.js';

/**
 * A `sub_id` is a few hundred bytes; nothing bigger is a revocation request. The body is read as text and parsed only
 * after the caller authenticated, so a malformed body from a stranger is a 401 (and audited) like any other.
 */
const BODY_LIMIT = '8kb';

/**
 * `POST /t/{slug}/global-token-revocation`: 204 when done; 400/401/403/404 per
 * draft-parecki-oauth-global-token-revocation §2.3, with a JSON error body that names the check only in general terms.
 */
export function gtrRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.post(`/${GTR_PATH}`, express.text({ limit: BODY_LIMIT, type: () => true }), async (req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await revokeGlobalTokens(s, tenantOf(res), { authorization: req.get('authorization'), body: typeof req.body === 'string' ? req.body : '', ip: req.ip, userAgent: req.get('user-agent') });
      res.status(204).end();
    } catch (err) {
      if (!(err instanceof GtrError)) throw err;
      if (err.status === 401) res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      res.status(err.status).json({ error: ERROR_CODES[err.status] });
    }
  });
  return r;
}

const ERROR_CODES = { 400: 'invalid_request', 401: 'invalid_token', 403: 'forbidden', 404: 'user_not_found' } as const;
