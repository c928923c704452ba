import type { Request, Response } from 'express';
import { parse as parseCookies, serialize } from 'cookie';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The browser session cookie. With an https PUBLIC_URL it is `__Host-` prefixed and Secure (the prefix makes the
 * browser refuse it unless Secure, Path=/ and host-only — RFC 6265bis §4.1.3.2). One cookie per tenant: the name
 * carries the tenant id, so two tenants' sessions in one browser never collide.
 */
export function sessionCookieName(publicUrl: string, t: TenantCtx): string {
  const base = `sb_session_${t.id}`;
  return publicUrl.startsWith('https://') ? `__Host-${base}` : base;
}

export function setSessionCookie(s: Services, t: TenantCtx, res: Response, token: string, expiresAt: Date): void {
  const secure = s.config.publicUrl.startsWith('https://');
  res.append(
    'Set-Cookie',
    serialize(sessionCookieName(s.config.publicUrl, t), token, {
      httpOnly: true,
      secure,
      // Lax: sent on top-level GET navigations (the OIDC callback) but NOT on the IdP's cross-site POST to the SAML ACS.
      // That is why the ACS redirects to GET /saml/complete, which carries this cookie, before the session is swapped
      // (the previous one revoked): see src/sso/http/saml-complete.ts and docs/decisions/0011.
      sameSite: 'lax',
      path: '/',
      expires: expiresAt,
    }),
  );
}

export function clearSessionCookie(s: Services, t: TenantCtx, res: Response): void {
  res.append(
    'Set-Cookie',
    serialize(sessionCookieName(s.config.publicUrl, t), '', {
      httpOnly: true,
      secure: s.config.publicUrl.startsWith('https://'),
      sameSite: 'lax',
      path: '/',
      expires: new Date(0),
    }),
  );
}

/** The signed-in session of this tenant for the request (with its user), or null. */
export async function currentSession(s: Services, t: TenantCtx, req: Request) {
  const token = parseCookies(req.headers.cookie ?? '')[sessionCookieName(s.config.publicUrl, t)];
  return token ? s.sessions.resolve(t, token) : null;
}
