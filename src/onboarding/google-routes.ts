import { Router } from 'express';
import * as oidc from 'openid-client';
import type { Services } from '../services.js';
import { startSession } from '../sessions/start-session.js';
import { bindBrowser, browserBindingProblem } from '../sso/browser-binding.js';
import { findConnectionByIssuer } from '../sso/connections/manage-connections.js';
import { requestFacts } from '../sso/http/complete-login.js';
import { defaultOidcMapping } from '../sso/connections/connection-config.js';
import { mapProfile } from '../sso/users/map-profile.js';
import { resolveSsoUser } from '../sso/users/resolve-sso-user.js';
import { OnboardingError } from './entra-onboarding.js';
import { sendOnboardingError } from './entra-routes.js';
import { googleApp, googleCallbackUrl, googleOidcConfig, installGoogleTenant } from './google-onboarding.js';
import { onboardingMessages } from './onboarding-pages.js';
import { consumeOnboardingState, installStartAllowed, saveOnboardingState } from './onboarding-state.js';

/**
 * Google Workspace Marketplace: the app's launch URL `/onboarding/google/launch` signs the user in with Google
 * (`hd=*`: Workspace accounts only); the callback recognises the domain by its Workspace customer id and lands the
 * user in the tenant's admin console (created on a super admin's first sign-in after the domain install).
 */
export function googleOnboardingRoutes(s: Services): Router {
  const r = Router();
  r.get('/onboarding/google/launch', async (req, res) => {
    try {
      googleApp(s);
      const config = await googleOidcConfig(s);
      const nonce = oidc.randomNonce();
      const verifier = oidc.randomPKCECodeVerifier();
      if (!(await installStartAllowed(s, req.ip))) throw new OnboardingError(429, onboardingMessages.tooManyStarts, 'install starts over the limit');
      const state = await saveOnboardingState(s, { flow: 'google', nonce, verifier, browser: bindBrowser(s, req, res) });
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: googleCallbackUrl(s),
        response_type: 'code',
        scope: 'openid email profile',
        state,
        nonce,
        hd: '*',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      res.redirect(303, url.href);
    } catch (err) {
      sendOnboardingError(s, req, res, err, 'google');
    }
  });
  r.get('/onboarding/google/callback', async (req, res) => {
    try {
      const q = new URLSearchParams(req.url.split('?')[1] ?? '');
      const state = q.get('state');
      const data = await consumeOnboardingState(s, state);
      if (!data || data.flow !== 'google') throw new OnboardingError(400, onboardingMessages.badState, 'state missing, unknown, used or expired');
      const problem = browserBindingProblem(s, req, data.browser);
      if (problem) throw new OnboardingError(400, onboardingMessages.badState, problem);
      if (q.get('error')) throw new OnboardingError(400, onboardingMessages.failed, `sign-in error ${q.get('error')!.slice(0, 64)}`);
      const config = await googleOidcConfig(s);
      const current = new URL(googleCallbackUrl(s));
      current.search = q.toString();
      const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: String(data.verifier), expectedNonce: String(data.nonce), expectedState: state!, idTokenExpected: true });
      const claims = tokens.claims()!;
      const { t, created, pending, customerId } = await installGoogleTenant(s, claims);
      const conn = await findConnectionByIssuer(t, 'oidc', googleApp(s).issuer);
      if (!conn) throw new OnboardingError(409, onboardingMessages.boundElsewhere, 'the tenant has no Google connection');
      const user = await resolveSsoUser(t, conn, mapProfile(String(claims.sub), { ...claims }, defaultOidcMapping, conn.config.mapping), s.clock.now(), (userId) => s.bus.publish({ type: 'user.changed', tenantId: t.id, userId }));
      // The installing super admin is the first admin even when the tenant waits for approval (SIGNUP_POLICY=approval):
      // after `signup approve` they launch again and land in the console; nobody else can become admin that way.
      if (created) await t.db.user.updateMany({ where: { id: user.id }, data: { isAdmin: true } });
      await s.audit.record(t, { actor: { kind: 'user', id: user.id }, action: 'onboarding.google', target: { kind: 'tenant', id: t.id }, outcome: 'success', request: requestFacts(req), detail: { customerId, created, pending } });
      if (pending) throw new OnboardingError(202, onboardingMessages.pendingInstall, 'tenant created, awaiting approval');
      await startSession(s, t, req, res, { userId: user.id, connectionId: conn.id, idp: { idpSubject: String(claims.sub) } });
      res.redirect(303, `/t/${t.slug}/admin`);
    } catch (err) {
      sendOnboardingError(s, req, res, err, 'google');
    }
  });
  return r;
}
