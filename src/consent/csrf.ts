import { createHmac } from 'node:crypto';
import { safeEqual } from '../lib/secrets.js';

/**
 * CSRF token of a consent form: an HMAC over (tenant, interaction, browser session) with the tenant's cookie key.
 * A form rendered for one session and interaction cannot be replayed into another (OWASP synchronizer-token pattern
 * without server state).
 */
export function csrfToken(key: string, tenantId: string, uid: string, sessionId: string): string {
  return createHmac('sha256', key).update(`consent\n${tenantId}\n${uid}\n${sessionId}`).digest('base64url');
}

export function csrfValid(key: string, tenantId: string, uid: string, sessionId: string, presented: unknown): boolean {
  return typeof presented === 'string' && safeEqual(presented, csrfToken(key, tenantId, uid, sessionId));
}
