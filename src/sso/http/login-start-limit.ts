import type { RequestHandler } from 'express';
import { limitStarts } from '../../http/limit-starts.js';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { sendPage } from '../../views/layout.js';
import { ssoMessages } from '../sso-error.js';
import { messagePage } from './login-page.js';

/**
 * SP-initiated SSO logins (`/oidc/login`, `/saml/login`) each write a LoginState row before anyone signed in: counted
 * per (tenant, client network) and per tenant across nodes; over the limit a 429 page with Retry-After (issue 8 §6).
 */
export function loginStartLimit(s: Services): RequestHandler {
  return limitStarts(s, (_req, res, verdict) => sendPage(res, 429, messagePage(tenantOf(res), 'Sign-in unavailable', ssoMessages.tooManyStarts(verdict.retryAfterS))));
}
