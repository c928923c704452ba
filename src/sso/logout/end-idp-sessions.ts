import { oauthRevocationStore } from '../../oauth/revoke-grants.js';
import { deleteIdpUserTokens } from '../idp-tokens/idp-user-tokens.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';

/** What an IdP names when it logs a user out: its subject (NameID / `sub`) and/or its session (SessionIndex / `sid`). */
export interface IdpLogoutTarget {
  subject?: string;
  /** OIDC `sid` or SAML `SessionIndex` values; when given, only those IdP sessions end. */
  sessions?: string[];
}

/** Session data recorded at login so that a later logout from the IdP can find the session (complete-login.ts). */
export interface IdpSessionFacts {
  idpSubject: string;
  idpSession?: string;
  /** SAML: the NameID Format, repeated in our LogoutRequest (SAML core §3.7.1: the NameID must match exactly). */
  idpNameIdFormat?: string;
}

/**
 * A logout at the IdP (SAML LogoutRequest, OIDC back-channel logout token) ends our sessions that this connection
 * started for that subject / IdP session. The tenant setting `idpLogoutRevokesGrants` (default off) also revokes the
 * users' MCP grants (OAuth tokens of their AI clients); off, the clients keep working until their tokens expire or the
 * user is deprovisioned — see docs/sso.md "Logout" for why that is the default.
 */
export async function endIdpSessions(s: Services, t: TenantCtx, conn: Connection, target: IdpLogoutTarget, via: string) {
  if (!target.subject && !target.sessions?.length) return { sessions: 0, grants: 0 };
  const rows = await t.db.session.findMany({
    where: {
      connectionId: conn.id,
      revokedAt: null,
      ...(target.subject && { data: { path: ['idpSubject'], equals: target.subject } }),
    },
    select: { id: true, userId: true, data: true },
  });
  // A session recorded without an IdP session id (no `sid` / SessionIndex at login) matches no session id: never
  // compare its absence as a string ("undefined"), which a logout naming that "session" would otherwise end.
  const sessionOf = (r: { data: unknown }) => (r.data as Record<string, unknown> | null)?.idpSession;
  const named = (r: { data: unknown }) => {
    const sid = sessionOf(r);
    return typeof sid === 'string' && target.sessions!.includes(sid);
  };
  const matching = target.sessions?.length ? rows.filter(named) : rows;
  for (const row of matching) await s.sessions.revoke(t, row.id);
  const users = [...new Set(matching.map((r) => r.userId))];
  let grants = 0;
  if (t.settings.idpLogoutRevokesGrants === true) {
    const oauth = oauthRevocationStore(s);
    for (const userId of users) grants += await oauth.revokeUser(t, userId);
  }
  // The IdP ended the sign-in the gateway acts with: Microsoft tools (issue 11 §1), ID-JAG upstreams (issue 13 §3).
  for (const userId of users) await deleteIdpUserTokens(t, { userId, connectionId: conn.id });
  for (const userId of users) {
    await s.audit.record(t, {
      actor: { kind: 'idp', id: conn.id },
      action: 'sso.logout',
      target: { kind: 'user', id: userId },
      outcome: 'success',
      detail: { connectionId: conn.id, via, sessions: matching.filter((r) => r.userId === userId).length, grantsRevoked: t.settings.idpLogoutRevokesGrants === true },
    });
  }
  return { sessions: matching.length, grants };
}
