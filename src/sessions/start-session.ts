import type { Request, Response } from 'express';
import { parse as parseCookies } from 'cookie';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { clearSessionCookie, sessionCookieName, setSessionCookie } from './session-cookie.js';

/**
 * Signs the user in after a successful SSO login. Always a brand-new session id: any session the browser already
 * presented is revoked first, so a token planted before login is worthless afterwards (session fixation,
 * OWASP Session Management cheat sheet "Renew the Session ID After Any Privilege Level Change").
 */
export async function startSession(
  s: Services,
  t: TenantCtx,
  req: Request,
  res: Response,
  login: { userId: string; connectionId: string | null; idp?: Record<string, string> },
): Promise<{ sessionId: string }> {
  const previous = parseCookies(req.headers.cookie ?? '')[sessionCookieName(s.config.publicUrl, t)];
  if (previous) {
    const old = await s.sessions.resolve(t, previous);
    if (old) await s.sessions.revoke(t, old.id);
  }
  const created = await s.sessions.create(t, {
    userId: login.userId,
    connectionId: login.connectionId,
    ip: req.ip ?? null,
    userAgent: req.get('user-agent') ?? null,
    // The IdP's subject and session (SAML SessionIndex / OIDC sid) let an IdP-initiated logout find this session.
    data: { authTime: s.clock.now().toISOString(), ...login.idp },
  });
  setSessionCookie(s, t, res, created.token, created.expiresAt);
  return { sessionId: created.id };
}

/** Logout: revoke the server-side session and clear the cookie. */
export async function endSession(s: Services, t: TenantCtx, req: Request, res: Response): Promise<void> {
  const token = parseCookies(req.headers.cookie ?? '')[sessionCookieName(s.config.publicUrl, t)];
  if (token) {
    const session = await s.sessions.resolve(t, token);
    if (session) await s.sessions.revoke(t, session.id);
  }
  clearSessionCookie(s, t, res);
}
