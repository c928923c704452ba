import { Router, type Request } from 'express';
import { formBody } from '../../http/body.js';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { checkCsrf, csrfToken } from '../../sessions/csrf.js';
import { currentSession } from '../../sessions/session-cookie.js';
import { deleteIdpUserTokens } from '../idp-tokens/idp-user-tokens.js';
import { endSession } from '../../sessions/start-session.js';
import { sendPage } from '../../views/layout.js';
import { enabledConnections } from '../connections/manage-connections.js';
import { idpLogoutUrl } from '../logout/idp-logout-url.js';
import { emailDomain } from '../users/map-profile.js';
import { safeReturnTo } from '../return-to.js';
import { defaultReturnTo } from './complete-login.js';
import { chooserPage, connectionLoginUrl, messagePage, signedInPage } from './login-page.js';
import { oidcRoutes } from './oidc-routes.js';
import { samlRoutes } from './saml-routes.js';
import { ssoErrorHandler } from './render-sso-error.js';
import { ssoMessages } from '../sso-error.js';

const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);

/**
 * Browser-facing SSO routes of a tenant: `/login` (routing), `/logout`, `/oidc/*`, `/saml/*`. Mounted on the tenant
 * router, so `tenantOf(res)` is the tenant of the URL.
 */
export function ssoRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });

  r.get('/login', async (req, res) => {
    const t = tenantOf(res);
    const returnTo = safeReturnTo(q(req, 'return_to'), defaultReturnTo(t.slug), s.config.publicUrl);
    const session = await currentSession(s, t, req);
    if (session) {
      if (returnTo !== defaultReturnTo(t.slug)) return void res.redirect(303, returnTo);
      const who = session.user.displayName ?? session.user.email ?? session.user.userName;
      return void sendPage(res, 200, signedInPage(t, who, csrfToken(s, t, req)!));
    }
    const conns = await enabledConnections(t);
    if (conns.length === 0) return void sendPage(res, 503, messagePage(t, 'Sign-in unavailable', ssoMessages.noConnection));
    const wanted = q(req, 'connection') && conns.find((c) => c.id === q(req, 'connection'));
    if (wanted) return void res.redirect(303, connectionLoginUrl(t, wanted, returnTo));
    if (conns.length === 1) return void res.redirect(303, connectionLoginUrl(t, conns[0]!, returnTo));
    const email = q(req, 'email');
    if (email) {
      const domain = emailDomain(email.trim().toLowerCase());
      const match = domain && conns.find((c) => c.config.allowedDomains.includes(domain));
      if (match) return void res.redirect(303, connectionLoginUrl(t, match, returnTo));
      return void sendPage(res, 200, chooserPage(t, conns, returnTo, 'No sign-in method is set up for that e-mail domain. Choose one below.'));
    }
    sendPage(res, 200, chooserPage(t, conns, returnTo));
  });

  r.get('/logout', async (req, res) => {
    const t = tenantOf(res);
    const session = await currentSession(s, t, req);
    if (!session) return void sendPage(res, 200, messagePage(t, 'Signed out', 'You are not signed in.'));
    const who = session.user.displayName ?? session.user.email ?? session.user.userName;
    sendPage(res, 200, signedInPage(t, who, csrfToken(s, t, req)!));
  });

  // Logout changes state: POST only, with the session's CSRF token (a cross-site page cannot sign users out).
  r.post('/logout', formBody(), async (req, res) => {
    const t = tenantOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!checkCsrf(s, t, req, body.csrf)) {
      return void sendPage(res, 403, messagePage(t, 'Sign-out failed', 'This form has expired. Reload the page and try again.'));
    }
    // Single logout: the IdP's session ends too when it offers a logout endpoint (idp-logout-url.ts).
    const session = await currentSession(s, t, req);
    const atIdp = session ? await idpLogoutUrl(s, t, { ...session, userId: session.user.id }) : null;
    await endSession(s, t, req, res);
    // Signing out ends the sign-in the gateway acts with: Microsoft tools (issue 11 §1), ID-JAG upstreams (issue 13 §3).
    if (session) await deleteIdpUserTokens(t, { userId: session.user.id });
    if (atIdp) return void res.redirect(303, atIdp);
    sendPage(res, 200, messagePage(t, 'Signed out', 'You are signed out.'));
  });

  r.use('/oidc', oidcRoutes(s));
  r.use('/saml', samlRoutes(s));
  // Only errors of these paths: errors of other capabilities' routers must not reach this HTML error page.
  r.use(['/login', '/logout', '/oidc', '/saml'], ssoErrorHandler(s, (res) => (res.locals.tenant as ReturnType<typeof tenantOf> | undefined) ?? null));
  return r;
}
