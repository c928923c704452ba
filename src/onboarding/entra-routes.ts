import { Router, type Request, type Response } from 'express';
import * as oidc from 'openid-client';
import type { Services } from '../services.js';
import { currentSession } from '../sessions/session-cookie.js';
import { startSession } from '../sessions/start-session.js';
import { isTenantAdmin } from '../sso/admin/tenant-admins.js';
import { bindBrowser, browserBindingProblem } from '../sso/browser-binding.js';
import { findActiveTenantById } from '../sso/find-tenant-by-id.js';
import { requestFacts } from '../sso/http/complete-login.js';
import { findActiveTenant } from '../tenants/find-tenant.js';
import { adminConsentUrl, checkEntraAdmin, entraApp, entraCallbackUrl, entraConfig, entraFirstAdmin, installEntraTenant, OnboardingError, readConsentAnswer } from './entra-onboarding.js';
import { messageBody, onboardingMessages, sendOnboardingPage } from './onboarding-pages.js';
import { csrfToken } from '../consent/csrf.js';
import { formBody } from '../http/body.js';
import { safeEqual } from '../lib/secrets.js';
import { loadSigningKeys } from '../oauth/signing-keys.js';
import { html } from '../views/html.js';
import { consumeOnboardingState, installStartAllowed, saveOnboardingState } from './onboarding-state.js';

const CONNECT_PURPOSE = 'onboarding:entra-connect';

const query = (req: Request) => new URLSearchParams(req.url.split('?')[1] ?? '');

/** Renders a refusal; anything unexpected is logged with the request id and shown as the generic failure page. */
export function sendOnboardingError(s: Services, req: Request, res: Response, err: unknown, flow: string): void {
  const e = err instanceof OnboardingError ? err : new OnboardingError(400, onboardingMessages.failed, `${(err as Error)?.name}: ${(err as Error)?.message}`.slice(0, 500));
  req.log?.info({ flow, status: e.status, detail: e.detail }, 'onboarding refused');
  sendOnboardingPage(res, e.status, e.status === 202 ? 'Request received' : 'Setup did not complete', messageBody(e.userMessage, `Reference: ${String(req.id ?? '')}`));
}

/**
 * The Entra install ("Add to Entra"): `/onboarding/entra/start` → Microsoft's admin consent → the callback →
 * an OIDC sign-in of the same admin in the consenting directory → the same callback, which creates or finds the
 * tenant and lands the admin in the admin console. Each leg has its own single-use, browser-bound state.
 */
export function entraOnboardingRoutes(s: Services): Router {
  const r = Router();

  /** Connecting an existing tenant (`?tenant=SLUG`): only its signed-in admin may, and only by that tenant's form. */
  const tenantToConnect = async (req: Request) => {
    const slug = typeof req.query.tenant === 'string' ? req.query.tenant : undefined;
    if (slug === undefined) return null;
    const t = await findActiveTenant(s.db, slug);
    const session = t ? await currentSession(s, t, req) : null;
    if (!t || !session || !(await isTenantAdmin(t, session.userId))) throw new OnboardingError(403, onboardingMessages.notAdmin, 'connect-existing without an admin session of that tenant');
    const { cookieKeys } = await loadSigningKeys(s, t);
    return { t, session, csrf: csrfToken(cookieKeys[0]!, t.id, CONNECT_PURPOSE, session.id) };
  };

  const start = async (req: Request, res: Response, into: string | null) => {
    if (!(await installStartAllowed(s, req.ip))) throw new OnboardingError(429, onboardingMessages.tooManyStarts, 'install starts over the limit');
    const state = await saveOnboardingState(s, { flow: 'entra', phase: 'consent', browser: bindBrowser(s, req, res), into });
    res.redirect(303, adminConsentUrl(s, state));
  };

  r.get('/onboarding/entra/start', async (req, res) => {
    try {
      entraApp(s);
      const connect = await tenantToConnect(req);
      if (!connect) return await start(req, res, null);
      // Binding a directory to an existing tenant is the tenant admin's explicit act on our own page (a POST with a
      // token of their session), never the effect of a link another site opened in their browser.
      const { t, csrf } = connect;
      sendOnboardingPage(
        res,
        200,
        'Connect Microsoft Entra ID',
        html`<p>Connect a Microsoft Entra directory to <strong>${t.name}</strong>? You will grant consent as an administrator of that directory, and its users will then sign in to ${t.name} with Microsoft.</p>
<form method="post" action="/onboarding/entra/start?tenant=${encodeURIComponent(t.slug)}"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Connect a directory</button></form>
<p><a href="/t/${encodeURIComponent(t.slug)}/admin">Back to the admin console</a></p>`,
        t.name,
      );
    } catch (err) {
      sendOnboardingError(s, req, res, err, 'entra');
    }
  });

  r.post('/onboarding/entra/start', formBody('4kb'), async (req, res) => {
    try {
      entraApp(s);
      const connect = await tenantToConnect(req);
      const presented = (req.body as Record<string, unknown> | undefined)?.csrf;
      if (!connect || typeof presented !== 'string' || !safeEqual(presented, connect.csrf)) {
        throw new OnboardingError(403, onboardingMessages.notAdmin, 'connect-existing form without a valid token of the admin session');
      }
      await start(req, res, connect.t.id);
    } catch (err) {
      sendOnboardingError(s, req, res, err, 'entra');
    }
  });

  r.get('/onboarding/entra/callback', async (req, res) => {
    try {
      const q = query(req);
      const state = q.get('state');
      const data = await consumeOnboardingState(s, state);
      if (!data || data.flow !== 'entra') throw new OnboardingError(400, onboardingMessages.badState, 'state missing, unknown, used or expired');
      const problem = browserBindingProblem(s, req, data.browser);
      if (problem) throw new OnboardingError(400, onboardingMessages.badState, problem);
      const into = typeof data.into === 'string' ? data.into : null;

      if (data.phase === 'consent') {
        const { tid } = readConsentAnswer(q);
        const config = await entraConfig(s, tid);
        const nonce = oidc.randomNonce();
        const verifier = oidc.randomPKCECodeVerifier();
        const next = await saveOnboardingState(s, { flow: 'entra', phase: 'signin', tid, nonce, verifier, browser: data.browser as string, into });
        const url = oidc.buildAuthorizationUrl(config, {
          redirect_uri: entraCallbackUrl(s),
          response_type: 'code',
          scope: 'openid profile email',
          state: next,
          nonce,
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        });
        return res.redirect(303, url.href);
      }

      const tid = String(data.tid);
      if (q.get('error')) throw new OnboardingError(400, onboardingMessages.failed, `sign-in error ${q.get('error')!.slice(0, 64)}`);
      const config = await entraConfig(s, tid);
      const current = new URL(entraCallbackUrl(s));
      current.search = q.toString();
      const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: String(data.verifier), expectedNonce: String(data.nonce), expectedState: state!, idTokenExpected: true });
      const admin = checkEntraAdmin(tokens.claims()!, tid);
      const target = into ? await findActiveTenantById(s.db, into) : null;
      if (into && !target) throw new OnboardingError(400, onboardingMessages.failed, 'the tenant being connected is gone or disabled');
      const { t, conn, created, pending } = await installEntraTenant(s, admin, target);
      const user = await entraFirstAdmin(s, t, conn, admin, created);
      await s.audit.record(t, { actor: { kind: 'user', id: user.id }, action: 'onboarding.entra', target: { kind: 'tenant', id: t.id }, outcome: 'success', request: requestFacts(req), detail: { tid, created, pending } });
      if (pending) throw new OnboardingError(202, onboardingMessages.pendingInstall, 'tenant created, awaiting approval');
      await startSession(s, t, req, res, { userId: user.id, connectionId: conn.id, idp: { idpSubject: String(admin.claims.sub) } });
      res.redirect(303, `/t/${t.slug}/admin`);
    } catch (err) {
      sendOnboardingError(s, req, res, err, 'entra');
    }
  });
  return r;
}
