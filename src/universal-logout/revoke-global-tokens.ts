import { RefusedToken, type Claims } from '../oauth/cross-app/jwt-checks.js';
import { rememberJti } from '../oauth/cross-app/remember-jti.js';
import { RateLimiter, rateRules, tenantAndNetwork } from '../http/rate-limit.js';
import { issuerUrl } from '../oauth/oauth-urls.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { findSubIdUsers, parseSubId, type SubjectId } from './find-sub-id-users.js';
import { GtrError } from './gtr-error.js';
import { GTR_SKEW_S, verifyGtrToken } from './verify-gtr-token.js';

export const GTR_PATH = 'global-token-revocation';
export const GTR_REASON = 'idp.universal-logout';

export interface GtrRequest {
  /** The `Authorization` header as received. */
  authorization: string | undefined;
  /** The raw request body (JSON text). */
  body: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/**
 * Okta Universal Logout / Global Token Revocation (draft-parecki-oauth-global-token-revocation §2): the tenant's IdP
 * tells us to sign a user out everywhere. Authentication first (401 before anything about the body is revealed),
 * then the subject; the effect is the revocation hub's — sessions, MCP grants and tokens, stored upstream
 * credentials, `revokedBefore` stamped — exactly what SCIM deactivation triggers, but the user stays active and may
 * sign in again. Every call is audited with its outcome. Throws GtrError; returns the users revoked.
 */
export function revokeGlobalTokens(s: Services, t: TenantCtx, req: GtrRequest): Promise<string[]> {
  return revokeForIdp(s, t, req, {
    action: 'idp.global-token-revocation',
    kind: 'gtr',
    path: GTR_PATH,
    token: /^Bearer +(\S+)$/i.exec(req.authorization ?? '')?.[1],
    subject: () => ({ subId: parseSubId(req.body), reason: GTR_REASON }),
  });
}

export interface IdpRevocation {
  action: string;
  kind: 'gtr' | 'set';
  /** The endpoint's path under the tenant: its URL is an accepted audience. */
  path: string;
  /** The JWT that authenticates the request, if one was presented. */
  token: string | undefined;
  /** The subject and the revocation reason, read once the JWT passed; null when there is nothing to do. */
  subject(claims: Claims): { subId: SubjectId; reason: string } | null;
}

/**
 * The steps Global Token Revocation and SSF event receipt share: verify the IdP's JWT, spend its jti, revoke, audit.
 * Requests that fail authentication are counted per client network and per tenant (anyone who knows a slug can send
 * them, and each is a row of the append-only audit chain): over a limit they are answered 429 and leave no row, as
 * failed SSO logins do (issue 8 §6). The IdP's own requests are never held back by them: only failures are refused.
 */
export async function revokeForIdp(s: Services, t: TenantCtx, req: Pick<GtrRequest, 'ip' | 'userAgent'>, r: IdpRevocation): Promise<string[]> {
  const limiter = new RateLimiter(s.db, s.clock, s.rateView);
  const limits = tenantAndNetwork(rateRules.idpSignalFailNet, rateRules.idpSignalFailTenant, t.id, req.ip);
  const seen: { iss?: string; jti?: string; connectionId?: string; subId?: SubjectId } = {};
  const audit = (outcome: 'success' | 'failure' | 'denied', userIds: string[], reason?: string) =>
    s.audit.record(t, {
      actor: { kind: 'idp', id: seen.connectionId ?? null },
      action: r.action,
      target: { kind: 'user', id: userIds[0] ?? null },
      outcome,
      request: { ip: req.ip, userAgent: req.userAgent },
      detail: { ...seen, userIds, ...(reason && { reason }) },
    });
  try {
    if (!r.token) throw new GtrError(401, r.kind === 'set' ? 'no SET in the body' : 'no Bearer token');
    const issuer = issuerUrl(s.config.publicUrl, t);
    const verified = await verifyGtrToken(s, t, r.token, { endpoint: `${issuer}/${r.path}`, issuer, kind: r.kind }, s.clock.now()).catch((err: unknown) => {
      throw err instanceof RefusedToken ? new GtrError(401, err.reason) : err;
    });
    const { iss, jti, exp } = verified.claims;
    Object.assign(seen, { iss, jti, connectionId: verified.conn.id });
    // Single use across nodes (RFC 7519 §4.1.7): a captured request must not sign the user out again and again.
    if (!(await rememberJti(s, t, iss, '', jti, new Date((exp + GTR_SKEW_S) * 1000), r.kind))) throw new GtrError(401, 'jti already used');
    const subject = r.subject(verified.claims);
    if (!subject) {
      await audit('success', [], 'no supported event');
      return [];
    }
    seen.subId = subject.subId;
    const userIds = await findSubIdUsers(t, subject.subId, verified.conn);
    for (const userId of userIds) await s.revocation.revokeUser(t, userId, subject.reason, { kind: 'idp', id: verified.conn.id });
    await audit('success', userIds);
    return userIds;
  } catch (err) {
    if (!(err instanceof GtrError)) throw err;
    if (err.status === 401) {
      const counted = await limiter.hit(limits);
      if (!counted.ok) throw new GtrError(429, 'too many failed requests', counted.retryAfterS);
    }
    await audit(err.status === 401 || err.status === 403 ? 'denied' : 'failure', [], err.reason);
    throw err;
  }
}
