import { newId } from '../../lib/ids.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { emailDomain, type SsoProfile } from './map-profile.js';
import { syncIdpGroups } from './sync-idp-groups.js';

/**
 * Finds (or links, or creates) the local user for a successful IdP login (issue 4 §5):
 * 1. by (connection, subject) — the only key an IdP owns;
 * 2. first login: link an existing user only through the connection's matching rule, only for an e-mail domain the
 *    connection may assert, and never a user already linked to any identity (another IdP's or a recycled account's);
 * 3. otherwise JIT-create when the connection allows it, else "ask your admin".
 * Inactive users are always refused. Group memberships of IdP-sourced groups follow the assertion.
 */
export async function resolveSsoUser(
  t: TenantCtx,
  conn: Connection,
  p: SsoProfile,
  now: Date,
  onGroupsChanged: (userId: string) => Promise<void> = async () => {},
) {
  const refuse = (code: string, message: string, detail: string) => new SsoError('user', code, message, detail, 403, {}, conn.id);
  const identity = await t.db.userIdentity.findUnique({ where: { connectionId_subject: { connectionId: conn.id, subject: p.subject } }, include: { user: true } });
  let user;
  if (identity) {
    user = identity.user;
    await t.db.userIdentity.updateMany({ where: { id: identity.id }, data: { lastLoginAt: now } });
    // Users the IdP created (JIT) follow the IdP's profile; SCIM-managed users are updated only by SCIM.
    const fresh = { email: p.email ?? user.email, displayName: p.displayName ?? user.displayName };
    if (user.source === 'jit' && (fresh.email !== user.email || fresh.displayName !== user.displayName)) {
      await t.db.user.updateMany({ where: { id: user.id }, data: fresh });
      user = { ...user, ...fresh };
    }
  } else {
    const domain = emailDomain(p.email);
    const domainAllowed = !!domain && conn.config.allowedDomains.includes(domain);
    const candidate = domainAllowed ? await matchExisting(t, conn, p) : null;
    if (candidate) {
      const linked = await t.db.userIdentity.count({ where: { userId: candidate.id } });
      if (linked > 0) throw refuse('link_refused', ssoMessages.linkRefused, `user ${candidate.id} is already linked to another identity`);
      user = candidate;
    } else {
      if (!conn.config.jitEnabled) throw refuse('not_provisioned', ssoMessages.notProvisioned, 'no linked or matching user and JIT is off');
      if (conn.config.allowedDomains.length > 0 && !domainAllowed) {
        throw refuse('domain_not_allowed', ssoMessages.notProvisioned, `e-mail domain ${domain ?? '(none)'} is not allowed for this connection`);
      }
      user = await createJitUser(t, p, refuse);
    }
    await t.db.userIdentity.create({ data: { id: newId('uid'), tenantId: t.id, userId: user.id, connectionId: conn.id, subject: p.subject, lastLoginAt: now } });
  }
  if (!user.active) throw refuse('inactive', ssoMessages.inactive, `user ${user.id} is inactive`);
  if (p.groups && (await syncIdpGroups(t, user.id, p.groups, conn.config.jitEnabled))) await onGroupsChanged(user.id);
  return user;
}

async function matchExisting(t: TenantCtx, conn: Connection, p: SsoProfile) {
  if (!p.email) return null;
  if (conn.config.matchBy === 'email') return t.db.user.findFirst({ where: { email: p.email } });
  if (conn.config.matchBy === 'userName') {
    // SCIM userName is often the UPN / NameID: try it too, but only when its domain is one the IdP may assert.
    const subjectDomain = emailDomain(p.subject.toLowerCase());
    const keys = [p.email, ...(subjectDomain && conn.config.allowedDomains.includes(subjectDomain) ? [p.subject.toLowerCase()] : [])];
    return t.db.user.findFirst({ where: { userNameKey: { in: keys } } });
  }
  return null;
}

async function createJitUser(t: TenantCtx, p: SsoProfile, refuse: (c: string, m: string, d: string) => SsoError) {
  const userName = p.email ?? p.subject;
  const clash = await t.db.user.findFirst({ where: { userNameKey: userName.toLowerCase() } });
  if (clash) throw refuse('link_refused', ssoMessages.linkRefused, `userName ${userName} exists and may not be linked by this connection`);
  return t.db.user.create({
    data: {
      id: newId('usr'),
      tenantId: t.id,
      userName,
      userNameKey: userName.toLowerCase(),
      email: p.email ?? null,
      displayName: p.displayName ?? null,
      source: 'jit',
      attributes: { name: { givenName: p.givenName, familyName: p.familyName } },
    },
  });
}
