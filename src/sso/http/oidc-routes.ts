import { Router, type Request } from 'express';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { enabledConnections, findConnectionByIssuer, type Connection } from '../connections/manage-connections.js';
import { browserBindingProblem, bindBrowser } from '../browser-binding.js';
import { formBody } from '../../http/body.js';
import { LogoutTokenRefused, receiveLogoutToken } from '../oidc/backchannel-logout.js';
import { finishOidcLogin } from '../oidc/finish-oidc-login.js';
import { startOidcLogin } from '../oidc/start-oidc-login.js';
import { safeReturnTo } from '../return-to.js';
import { loginStartLimit } from './login-start-limit.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { completeLogin, defaultReturnTo } from './complete-login.js';

const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);

export function oidcRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });

  /**
   * SP-initiated login (`?connection=ID&return_to=/path`) and OIDC third-party-initiated login (OIDC Core §4:
   * `iss` names the IdP, `login_hint` is passed on, `target_link_uri` is absolute and must point back into PUBLIC_URL: it passes the same `safeReturnTo` as `return_to`).
   */
  r.get('/login', loginStartLimit(s), async (req, res) => {
    const t = tenantOf(res);
    const iss = q(req, 'iss');
    let conn: Connection | null | undefined;
    if (iss) conn = await findConnectionByIssuer(t, 'oidc', iss.replace(/\/+$/, ''));
    else {
      const conns = (await enabledConnections(t)).filter((c) => c.kind === 'oidc');
      const id = q(req, 'connection');
      conn = id ? conns.find((c) => c.id === id) : conns.length === 1 ? conns[0] : undefined;
    }
    if (!conn) throw new SsoError('oidc.login', 'unknown_connection', ssoMessages.noConnection, `no OIDC connection for ${iss ?? q(req, 'connection') ?? '(default)'}`, 404, { iss });
    const returnTo = safeReturnTo(q(req, 'target_link_uri') ?? q(req, 'return_to'), defaultReturnTo(t.slug), s.config.publicUrl);
    const url = await startOidcLogin(s, t, conn, { returnTo, loginHint: q(req, 'login_hint'), claims: q(req, 'claims'), browser: bindBrowser(s, req, res), purpose: { forceLogin: q(req, 'prompt') === 'login' } });
    res.redirect(303, url);
  });

  r.get('/callback', async (req, res) => {
    const ok = await finishOidcLogin(s, tenantOf(res), new URLSearchParams(req.url.split('?')[1] ?? ''), (b) => browserBindingProblem(s, req, b));
    await completeLogin(s, req, res, ok);
  });

  // OIDC Back-Channel Logout 1.0 §2.5/§2.8: the IdP POSTs a logout token server to server; 200 or 400 + JSON.
  r.post('/backchannel-logout', formBody(), async (req, res) => {
    res.set('cache-control', 'no-store');
    try {
      await receiveLogoutToken(s, tenantOf(res), (req.body as Record<string, unknown> | undefined)?.logout_token);
      res.status(200).end();
    } catch (err) {
      if (!(err instanceof LogoutTokenRefused)) throw err;
      res.status(400).json({ error: 'invalid_request', error_description: err.message });
    }
  });
  return r;
}
