import { Router, type Request, type RequestHandler, type Response } from 'express';
import { RateLimiter, rateRules, tenantAndNetwork } from '../../http/rate-limit.js';
import { sendTooManyFailures } from './render-sso-error.js';
import { formBody } from '../../http/body.js';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { enabledConnections } from '../connections/manage-connections.js';
import { bindBrowser } from '../browser-binding.js';
import { safeReturnTo } from '../return-to.js';
import { loginStartLimit } from './login-start-limit.js';
import { consumeSamlResponse } from '../saml/consume-saml-response.js';
import { spMetadata } from '../saml/sp-metadata.js';
import { receiveSloMessage, type SloMessage } from '../saml/single-logout.js';
import { startSamlLogin } from '../saml/start-saml-login.js';
import { endSession } from '../../sessions/start-session.js';
import { messagePage } from './login-page.js';
import { sendPage } from '../../views/layout.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { completeLogin, defaultReturnTo } from './complete-login.js';
import { parkSamlLogin, takeSamlLogin } from './saml-complete.js';

const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);

export function samlRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  const limiter = new RateLimiter(s.db, s.clock);
  // The ACS and SLO parse anonymous XML before any signature is known: a client network that has used up its budget
  // of failed logins (the SSO error handler counts them) is refused before that work, not only after it.
  const failuresLeft: RequestHandler = async (req, res, next) => {
    const t = tenantOf(res);
    const verdict = await limiter.check(tenantAndNetwork(rateRules.ssoFailNet, rateRules.ssoFailTenant, t.id, req.ip).slice(0, 1));
    if (verdict.ok) return next();
    sendTooManyFailures(res, t, verdict);
  };

  r.get('/metadata', async (_req, res) => {
    res.type('application/samlmetadata+xml').send(await spMetadata(s, tenantOf(res)));
  });

  r.get('/login', loginStartLimit(s), async (req, res) => {
    const t = tenantOf(res);
    const conns = (await enabledConnections(t)).filter((c) => c.kind === 'saml');
    const id = q(req, 'connection');
    const conn = id ? conns.find((c) => c.id === id) : conns.length === 1 ? conns[0] : undefined;
    if (!conn) throw new SsoError('saml.login', 'unknown_connection', ssoMessages.noConnection, `no SAML connection ${id ?? '(default)'}`, 404);
    const returnTo = safeReturnTo(q(req, 'return_to'), defaultReturnTo(t.slug), s.config.publicUrl);
    // `prompt=login` (the console's re-authentication): ForceAuthn, and the answer's AuthnInstant is checked.
    res.redirect(303, await startSamlLogin(s, t, conn, returnTo, bindBrowser(s, req, res), { forceLogin: q(req, 'prompt') === 'login' }));
  });

  // The IdP's POST is a cross-site top-level navigation: no CSRF token is possible; the signed, audience- and
  // recipient-bound, single-use assertion is what authenticates it. It carries no SameSite=Lax cookie, so the session
  // swap and the browser-binding check happen at /complete (saml-complete.ts).
  r.post('/acs', failuresLeft, formBody(), async (req, res) => {
    await parkSamlLogin(s, res, await consumeSamlResponse(s, tenantOf(res), (req.body ?? {}) as Record<string, unknown>));
  });

  r.get('/complete', async (req, res) => {
    await completeLogin(s, req, res, await takeSamlLogin(s, tenantOf(res), req, res));
  });

  // Single logout, HTTP-Redirect (GET) and HTTP-POST bindings. No CSRF token is possible (the IdP sends the browser
  // here); the IdP's signature, Destination, freshness and single-use ID authenticate it (single-logout.ts).
  const slo = (binding: SloMessage['binding']) => async (req: Request, res: Response) => {
    const t = tenantOf(res);
    const fields = (binding === 'redirect' ? req.query : (req.body ?? {})) as Record<string, unknown>;
    const outcome = await receiveSloMessage(s, t, { binding, fields, rawQuery: req.url.split('?')[1] ?? '' });
    await endSession(s, t, req, res);
    if ('redirect' in outcome) return void res.redirect(303, outcome.redirect);
    sendPage(res, 200, messagePage(t, 'Signed out', 'You are signed out.'));
  };
  r.get('/slo', failuresLeft, slo('redirect'));
  r.post('/slo', failuresLeft, formBody(), slo('post'));
  return r;
}
