import type { Claims } from '../oauth/cross-app/jwt-checks.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { parseSubId, type SubjectId } from './find-sub-id-users.js';
import { GtrError } from './gtr-error.js';
import { revokeForIdp, type GtrRequest } from './revoke-global-tokens.js';

export const SSF_PATH = 'ssf/events';

/** CAEP 1.0 §3.1 and §3.2: the two events that mean "this user's sessions must end". */
const REVOKING_EVENTS: Record<string, string> = {
  'https://schemas.openid.net/secevent/caep/event-type/session-revoked': 'ssf.session-revoked',
  'https://schemas.openid.net/secevent/caep/event-type/credential-change': 'ssf.credential-change',
};

/**
 * A Security Event Token pushed by the tenant's IdP (RFC 8935 push delivery; SSF 1.0): the body is the SET, signed by
 * an OIDC connection of this tenant and checked like a Global Token Revocation JWT (plus `typ` secevent+jwt). A
 * CAEP `session-revoked` or `credential-change` event has the same effect as Universal Logout; other events are
 * acknowledged and ignored (RFC 8935 §2.2). The subject is the SET's `sub_id` (SSF 1.0 §4.1) or, as older CAEP
 * transmitters send it, the event's `subject`; formats `iss_sub` and `email`.
 */
export function receiveSecurityEvent(s: Services, t: TenantCtx, req: GtrRequest): Promise<string[]> {
  return revokeForIdp(s, t, req, { action: 'idp.ssf.event', kind: 'set', path: SSF_PATH, token: req.body.trim() || undefined, subject });
}

function subject(claims: Claims): { subId: SubjectId; reason: string } | null {
  const events = claims.events;
  if (!events || typeof events !== 'object' || Array.isArray(events)) throw new GtrError(400, 'events missing');
  const type = Object.keys(events).find((k) => k in REVOKING_EVENTS);
  if (!type) return null;
  const event = (events as Record<string, unknown>)[type];
  const subId = claims.sub_id ?? (event && typeof event === 'object' ? (event as Record<string, unknown>).subject : undefined);
  return { subId: parseSubId(JSON.stringify({ sub_id: subId ?? null })), reason: REVOKING_EVENTS[type]! };
}
