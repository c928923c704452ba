import type { Request, Response } from 'express';
import { parse as parseCookies, serialize } from 'cookie';
import { newId } from '../lib/ids.js';
import { hashToken, newSecretToken, safeEqual } from '../lib/secrets.js';
import type { Services } from '../services.js';
import { csrfTokenForSessionToken } from '../sessions/csrf.js';
import { ADMIN_IDLE_MS } from '../admin/http/admin-session.js';

/** The operator view's idle timeout is the tenant console's (15 minutes); a session never outlives 8 hours. */
export const OPERATOR_IDLE_MS = ADMIN_IDLE_MS;
export const OPERATOR_ABSOLUTE_MS = 8 * 3_600_000;

/**
 * `__Host-` with an https PUBLIC_URL (RFC 6265bis §4.1.3.2: Secure, Path=/, host-only). SameSite=Strict: the operator
 * view is never entered from another site's link with a session (unlike the tenant cookie, no IdP POSTs back here).
 */
export const operatorCookieName = (publicUrl: string) => (publicUrl.startsWith('https://') ? '__Host-sb_operator' : 'sb_operator');

function writeCookie(s: Services, res: Response, value: string, expires: Date) {
  res.append('Set-Cookie', serialize(operatorCookieName(s.config.publicUrl), value, { httpOnly: true, secure: s.config.publicUrl.startsWith('https://'), sameSite: 'strict', path: '/', expires }));
}

export interface OperatorSignedIn {
  sessionId: string;
  operator: { id: string; name: string };
  csrf: string;
}

/** Starts a server-side session for a verified operator; the cookie carries a random token, the row only its hash. */
export async function startOperatorSession(s: Services, res: Response, operatorId: string): Promise<void> {
  const now = s.clock.now();
  const token = newSecretToken('sbos');
  const expiresAt = new Date(now.getTime() + OPERATOR_ABSOLUTE_MS);
  await s.db.operatorSession.create({
    data: { id: newId('ops'), operatorId, tokenHash: hashToken(token), createdAt: now, lastSeenAt: now, idleExpiresAt: new Date(now.getTime() + OPERATOR_IDLE_MS), expiresAt },
  });
  writeCookie(s, res, token, expiresAt);
}

const cookieToken = (s: Services, req: Request) => parseCookies(req.headers.cookie ?? '')[operatorCookieName(s.config.publicUrl)];

/**
 * The live operator session of the request, or null: unknown, revoked, idle for {@link OPERATOR_IDLE_MS}, past its
 * absolute lifetime, or its token revoked. A hit slides the idle deadline (at most one write a minute).
 */
export async function currentOperator(s: Services, req: Request): Promise<OperatorSignedIn | null> {
  const token = cookieToken(s, req);
  if (!token) return null;
  const now = s.clock.now();
  const row = await s.db.operatorSession.findUnique({ where: { tokenHash: hashToken(token) }, include: { operator: { select: { id: true, name: true, revokedAt: true } } } });
  if (!row || row.revokedAt || row.operator.revokedAt) return null;
  if (row.expiresAt <= now || row.idleExpiresAt <= now) {
    await s.db.operatorSession.updateMany({ where: { id: row.id, revokedAt: null }, data: { revokedAt: now } });
    return null;
  }
  const idleExpiresAt = new Date(Math.min(now.getTime() + OPERATOR_IDLE_MS, row.expiresAt.getTime()));
  if (idleExpiresAt.getTime() - row.idleExpiresAt.getTime() > 60_000) {
    await s.db.operatorSession.updateMany({ where: { id: row.id }, data: { lastSeenAt: now, idleExpiresAt } });
  }
  return { sessionId: row.id, operator: { id: row.operator.id, name: row.operator.name }, csrf: csrfTokenForSessionToken(token) };
}

/** CSRF: the session-bound HMAC token (the tenant console's scheme, src/sessions/csrf.ts) and, if sent, our origin. */
export function operatorStateChangeAllowed(s: Services, req: Request): boolean {
  const origin = req.get('origin');
  if (origin && origin !== new URL(s.config.publicUrl).origin) return false;
  const token = cookieToken(s, req);
  const submitted = (req.body as Record<string, unknown> | undefined)?.csrf;
  if (!token || typeof submitted !== 'string' || submitted.length === 0) return false;
  return safeEqual(csrfTokenForSessionToken(token), submitted);
}

export async function endOperatorSession(s: Services, res: Response, sessionId: string): Promise<void> {
  await s.db.operatorSession.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: s.clock.now() } });
  writeCookie(s, res, '', new Date(0));
}
