import { createHmac } from 'node:crypto';
import type { Request } from 'express';
import { parse as parseCookies } from 'cookie';
import { safeEqual } from '../lib/secrets.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { sessionCookieName } from './session-cookie.js';

/**
 * CSRF tokens for state-changing forms (logout, consent), bound to the browser session: the token is an HMAC of the
 * session cookie's secret value, so it needs no storage, differs per session, and a cross-site page (which cannot read
 * the HttpOnly cookie) cannot compute it (OWASP CSRF cheat sheet, "signed double-submit / HMAC token").
 */
export function csrfTokenForSessionToken(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('csrf:v1').digest('base64url');
}

function sessionToken(s: Services, t: TenantCtx, req: Request): string | undefined {
  return parseCookies(req.headers.cookie ?? '')[sessionCookieName(s.config.publicUrl, t)];
}

/** The CSRF token to embed in a form for this request's session, or null without a session cookie. */
export function csrfToken(s: Services, t: TenantCtx, req: Request): string | null {
  const token = sessionToken(s, t, req);
  return token ? csrfTokenForSessionToken(token) : null;
}

/** True when `submitted` is the CSRF token of this request's session (constant-time). */
export function checkCsrf(s: Services, t: TenantCtx, req: Request, submitted: unknown): boolean {
  const token = sessionToken(s, t, req);
  if (!token || typeof submitted !== 'string' || submitted.length === 0) return false;
  return safeEqual(csrfTokenForSessionToken(token), submitted);
}
