import type { Request, Response } from 'express';
import { saveEntraToken } from '../../connectors/microsoft/entra-token-store.js';
import type { Services } from '../../services.js';
import { ID_JAG_SIGN_IN } from '../../upstream-auth/id-jag/idp-sign-in.js';
import { OIDC_ID_TOKEN, saveIdpUserToken } from '../idp-tokens/idp-user-tokens.js';
import { startSession } from '../../sessions/start-session.js';
import type { SsoSuccess } from '../oidc/finish-oidc-login.js';
import { safeReturnTo } from '../return-to.js';
import { SsoError } from '../sso-error.js';
import { resolveSsoUser } from '../users/resolve-sso-user.js';
import { completeTestSignIn } from '../login/test-sign-in.js';

export const requestFacts = (req: Request) => ({ ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') });

/** Shared tail of every protocol: local user, fresh session, audit, then back to where the user was going. */
export async function completeLogin(s: Services, req: Request, res: Response, ok: SsoSuccess): Promise<void> {
  // An admin's "Test sign-in": a dry run, no user written and no session started (login/test-sign-in.ts).
  if (ok.purpose?.test) return completeTestSignIn(s, req, res, ok);
  const { t, conn, profile } = ok;
  let user;
  try {
    user = await resolveSsoUser(t, conn, profile, s.clock.now(), (userId) =>
      s.bus.publish({ type: 'user.changed', tenantId: t.id, userId }),
    );
  } catch (err) {
    if (err instanceof SsoError) {
      err.tenant = t;
      err.summary = { ...err.summary, protocol: conn.kind, issuer: conn.issuer, emailDomain: profile.email?.split('@')[1] };
    }
    throw err;
  }
  // Microsoft connector hook: the Entra refresh token captured at this sign-in (rotates the stored one).
  if (ok.entraToken) await saveEntraToken(s, t, user.id, conn.id, ok.entraToken);
  // ID-JAG upstreams' hook: the IdP tokens the gateway exchanges for ID-JAGs on the user's behalf (decision 0027).
  if (ok.idpSignIn) await saveIdpUserToken(s, t, ID_JAG_SIGN_IN, user.id, conn.id, ok.idpSignIn);
  // RP-initiated logout names the sign-in it ends (`id_token_hint`, OIDC RP-Initiated Logout 1.0 §2): only where the
  // IdP has an end_session_endpoint, encrypted in the vault, deleted at sign-out and by an IdP logout.
  if (ok.idToken && conn.kind === 'oidc') await saveIdpUserToken(s, t, OIDC_ID_TOKEN, user.id, conn.id, ok.idToken);
  await startSession(s, t, req, res, { userId: user.id, connectionId: conn.id, idp: ok.idpSession ? { ...ok.idpSession } : undefined });
  await s.audit.record(t, {
    actor: { kind: 'user', id: user.id },
    action: 'sso.login',
    target: { kind: 'user', id: user.id },
    outcome: 'success',
    request: requestFacts(req),
    detail: { connectionId: conn.id, protocol: conn.kind },
  });
  res.redirect(303, safeReturnTo(ok.returnTo, defaultReturnTo(t.slug), s.config.publicUrl));
}

/** Where a login lands without a return path: the login page, which then shows "signed in as …". */
export const defaultReturnTo = (slug: string) => `/t/${slug}/login`;
