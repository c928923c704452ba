import type { Request, Response } from 'express';
import type { Services } from '../../services.js';
import { checkCsrf, csrfToken } from '../../sessions/csrf.js';
import { currentSession } from '../../sessions/session-cookie.js';
import { isTenantAdmin } from '../../sso/admin/tenant-admins.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { AdminActor } from '../actions/admin-action.js';

/** Console idle timeout: an admin session unused this long is ended (stricter than the 30-minute browser session). */
export const ADMIN_IDLE_MS = 15 * 60_000;
/** Sensitive actions need an SSO sign-in at most this old (OWASP ASVS 4.0 V3.7.1 "re-authentication"). */
export const REAUTH_WINDOW_MS = 10 * 60_000;

type Session = NonNullable<Awaited<ReturnType<typeof currentSession>>>;

export interface SignedInAdmin {
  session: Session;
  name: string;
  csrf: string;
  actor: AdminActor & { kind: 'user' };
}

export type AdminCheck = { ok: true; admin: SignedInAdmin } | { ok: false; reason: 'signed-out' | 'idle' | 'forbidden' };

/**
 * The console's gate, for pages and the JSON API alike: a live browser session of THIS tenant (the cookie is per
 * tenant and the lookup tenant-scoped, so another tenant's admin has no session here), not idle for
 * {@link ADMIN_IDLE_MS} (an idle one is ended, so signing in again is a fresh SSO), and a tenant admin (`admin grant`
 * or the tenant's admin group, checked on every request: removal from the group takes effect at once).
 */
export async function checkAdmin(s: Services, t: TenantCtx, req: Request): Promise<AdminCheck> {
  const session = await currentSession(s, t, req);
  if (!session) return { ok: false, reason: 'signed-out' };
  // `lastSeenAt` is the previous request's (the store writes it at most once a minute): at most a minute generous.
  if (s.clock.now().getTime() - session.lastSeenAt.getTime() > ADMIN_IDLE_MS) {
    await s.sessions.revoke(t, session.id);
    return { ok: false, reason: 'idle' };
  }
  if (!(await isTenantAdmin(t, session.userId))) return { ok: false, reason: 'forbidden' };
  const u = session.user;
  return {
    ok: true,
    admin: {
      session,
      name: u.displayName ?? u.email ?? u.userName,
      csrf: csrfToken(s, t, req)!,
      actor: { kind: 'user', id: session.userId, request: { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') } },
    },
  };
}

/** When the session's SSO sign-in happened (startSession records it), or null. */
export function authTimeOf(session: Session): Date | null {
  const at = (session.data as Record<string, unknown> | null)?.authTime;
  const d = typeof at === 'string' ? new Date(at) : null;
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

export function authIsFresh(s: Services, session: Session): boolean {
  const at = authTimeOf(session);
  return at !== null && s.clock.now().getTime() - at.getTime() <= REAUTH_WINDOW_MS;
}

/**
 * A state change must carry the session's CSRF token (form field `csrf` or header `X-CSRF-Token`) and, when the
 * browser says where it comes from, come from our own origin (defence in depth: OWASP CSRF cheat sheet, "Verifying
 * origin with standard headers").
 */
export function stateChangeAllowed(s: Services, t: TenantCtx, req: Request): boolean {
  const origin = req.get('origin');
  if (origin && origin !== new URL(s.config.publicUrl).origin) return false;
  const submitted = req.get('x-csrf-token') ?? (req.body as Record<string, unknown> | undefined)?.csrf;
  return checkCsrf(s, t, req, submitted);
}

/** Records a refused console request (bad CSRF token, stale sign-in) in the tenant's audit log. */
export async function auditRefusal(s: Services, t: TenantCtx, req: Request, res: Response, action: string, reason: string, userId?: string): Promise<void> {
  await s.audit.record(t, {
    actor: userId ? { kind: 'user', id: userId } : { kind: 'system' },
    action,
    outcome: 'denied',
    request: { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? res.locals.requestId ?? '') },
    detail: { reason },
  });
}
