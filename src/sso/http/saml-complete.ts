import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { browserBindingProblem, readLoginCookie, setLoginCookie } from '../browser-binding.js';
import { findConnection, findConnectionEvenDisabled } from '../connections/manage-connections.js';
import type { ReceivedClaims } from '../login/received.js';
import { consumeLoginState, saveLoginState } from '../login-state.js';
import type { SsoSuccess } from '../oidc/finish-oidc-login.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import type { SsoProfile } from '../users/map-profile.js';

const COOKIE = 'sb_acs';
const TTL_S = 120;

export const samlCompleteUrl = (t: TenantCtx) => `/t/${t.slug}/saml/complete`;

/**
 * The IdP's POST to the ACS is cross-site, so the browser sends no SameSite=Lax cookie with it: neither the session
 * cookie (the previous session could not be ended) nor the login-binding cookie (the AuthnRequest could not be checked
 * against the browser). So the ACS only validates, parks the result here for two minutes under a random key that it
 * gives the browser in a cookie, and redirects (303) to `/saml/complete`: a top-level GET navigation, which does carry
 * Lax cookies. Only that browser can finish (the key is in its cookie, never in a URL). docs/decisions/0011.
 */
export async function parkSamlLogin(s: Services, res: Response, ok: SsoSuccess & { browser: string | null }): Promise<void> {
  const key = randomBytes(32).toString('base64url');
  const data = {
    kind: 'saml-complete',
    profile: JSON.parse(JSON.stringify(ok.profile)) as Prisma.InputJsonObject,
    returnTo: ok.returnTo,
    browser: ok.browser,
    // The IdP's subject and SessionIndex, kept on the session for single logout (single-logout.ts).
    ...(ok.idpSession && { idpSession: { ...ok.idpSession } }),
    // Only an admin's "Test sign-in" keeps what the IdP sent (to show it); a real login needs the profile alone.
    ...(ok.purpose?.test && { test: { ...ok.purpose.test }, received: JSON.parse(JSON.stringify(ok.received)) as Prisma.InputJsonObject }),
  };
  await saveLoginState(s, ok.t, ok.conn.id, key, data, TTL_S * 1000);
  setLoginCookie(s, res, COOKIE, key, TTL_S);
  res.redirect(303, samlCompleteUrl(ok.t));
}

/** `/saml/complete`: takes the parked login (single use) and, for SP-initiated logins, checks the browser binding. */
export async function takeSamlLogin(s: Services, t: TenantCtx, req: Request, res: Response): Promise<SsoSuccess> {
  const key = readLoginCookie(s, req, COOKIE);
  setLoginCookie(s, res, COOKIE, '', 0);
  const fail = (code: string, message: string, detail: string, connectionId: string | null = null) =>
    Object.assign(new SsoError('saml.complete', code, message, detail, 400, { protocol: 'saml' }, connectionId), { tenant: t });
  const row = key ? await consumeLoginState(s, t, key) : null;
  if (!row || row.tenantId !== t.id || row.data.kind !== 'saml-complete') throw fail('bad_state', ssoMessages.expired, key ? 'parked SAML login unknown, used, expired or of another tenant' : 'no sb_acs cookie');
  // null = IdP-initiated (allowed by the connection's switch); otherwise the AuthnRequest's browser must be this one.
  if (row.data.browser !== null) {
    const problem = browserBindingProblem(s, req, row.data.browser);
    if (problem) throw fail('browser_mismatch', ssoMessages.otherBrowser, problem, row.connectionId);
  }
  const test = row.data.test as { adminSessionId: string } | undefined;
  const conn = test ? await findConnectionEvenDisabled(t, row.connectionId) : await findConnection(t, row.connectionId);
  if (!conn || conn.kind !== 'saml') throw fail('connection_gone', ssoMessages.failed, 'the connection was removed or disabled during login', row.connectionId);
  const idpSession = row.data.idpSession as SsoSuccess['idpSession'] | undefined;
  return {
    t,
    conn,
    profile: row.data.profile as unknown as SsoProfile,
    returnTo: String(row.data.returnTo ?? ''),
    ...(idpSession && { idpSession }),
    ...(test && { purpose: { test }, received: row.data.received as unknown as ReceivedClaims }),
  };
}
