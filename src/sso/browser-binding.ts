import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { parse as parseCookies, serialize } from 'cookie';
import { hashToken, safeEqual } from '../lib/secrets.js';
import type { Services } from '../services.js';

/** Longer than a login transaction (10 min in LoginState), refreshed by every login the browser starts. */
const BINDING_TTL_S = 15 * 60;
const NONCE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Short-lived cookies of the login flow. HttpOnly; `SameSite=Lax` — sent on the IdP's redirect back (a top-level GET:
 * the OIDC callback, and `/saml/complete`, where the ACS sends the browser after the IdP's cross-site POST), never on
 * cross-site subrequests or POSTs (docs/decisions/0011). With an https PUBLIC_URL they are `__Host-` prefixed and Secure,
 * so a sibling subdomain cannot plant one (RFC 6265bis §4.1.3.2).
 */
export function loginCookieName(s: Services, base: string): string {
  return s.config.publicUrl.startsWith('https://') ? `__Host-${base}` : base;
}

export function setLoginCookie(s: Services, res: Response, base: string, value: string, maxAgeS: number): void {
  const secure = s.config.publicUrl.startsWith('https://');
  res.append('Set-Cookie', serialize(loginCookieName(s, base), value, { httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge: maxAgeS }));
}

export function readLoginCookie(s: Services, req: Request, base: string): string | undefined {
  return parseCookies(req.headers.cookie ?? '')[loginCookieName(s, base)];
}

/**
 * Login CSRF defence (issue 8 §2; RFC 6749 §10.12, OIDC Core §3.1.2.1 on binding `state` to the user agent): every
 * login transaction (OIDC state, SAML AuthnRequest ID) stores the SHA-256 of a random nonce this browser holds in the
 * `sb_login` cookie. The browser's nonce is reused while it lives, so logins started in several tabs all complete.
 * Returns the hash the transaction must store.
 */
export function bindBrowser(s: Services, req: Request, res: Response): string {
  const current = readLoginCookie(s, req, 'sb_login');
  const nonce = current && NONCE.test(current) ? current : randomBytes(32).toString('base64url');
  setLoginCookie(s, res, 'sb_login', nonce, BINDING_TTL_S);
  return hashToken(nonce);
}

/** Why this request's browser is not the one the transaction was bound to (`expected`), or null when it is. */
export function browserBindingProblem(s: Services, req: Request, expected: unknown): string | null {
  const nonce = readLoginCookie(s, req, 'sb_login');
  if (!nonce) return 'the browser did not send the login binding cookie (another browser, or cookies blocked)';
  if (typeof expected !== 'string' || !safeEqual(hashToken(nonce), expected)) return 'the login was started in another browser (binding cookie does not match)';
  return null;
}
