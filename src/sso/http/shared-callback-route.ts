import { Router } from 'express';
import type { Services } from '../../services.js';
import { browserBindingProblem } from '../browser-binding.js';
import { finishOidcLogin } from '../oidc/finish-oidc-login.js';
import { completeLogin } from './complete-login.js';
import { ssoErrorHandler } from './render-sso-error.js';

/**
 * `PUBLIC_URL/oidc/callback`: the one redirect URI of a multi-tenant app registration (Entra, Google). The tenant
 * comes only from the single-use login state the browser brings back; the token must then carry that tenant's
 * required claims (Entra `tid`, Google `hd`), checked in finishOidcLogin.
 */
export function sharedOidcCallbackRoutes(s: Services): Router {
  const r = Router();
  r.get('/oidc/callback', async (req, res) => {
    const ok = await finishOidcLogin(s, null, new URLSearchParams(req.url.split('?')[1] ?? ''), (b) => browserBindingProblem(s, req, b));
    await completeLogin(s, req, res, ok);
  });
  r.use('/oidc/callback', ssoErrorHandler(s, () => null));
  return r;
}
