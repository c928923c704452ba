import { newId } from '../../lib/ids.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { enabledConnections, type Connection } from '../connections/manage-connections.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { identityMessages } from './identity-refusals.js';
import { emailDomain, type SsoProfile } from './map-profile.js';
import { syncIdpGroups } from './sync-idp-groups.js';

type Refuse = (code: string, message: string, detail: string) => SsoError;
type UserRow = NonNullable<Awaited<ReturnType<TenantCtx['db']['user']['findFirst']>>>;

/**
 * Finds (or links, or creates) the local user for a successful IdP login (issue 4 §5, issue 8 §4):
 * 1. by (connection, subject) — the only key an IdP owns;
 * 2. first login: link an existing user only through the connection's matching rule, only for a verified e-mail of a
 *    domain the connection may assert, never a user already linked to any identity, never a user bound to another
 *    connection, and never an unbound user whose domain another enabled connection of the tenant may also assert;
 * 3. otherwise JIT-create when the connection allows it, else "ask your admin".
 * The domain rule of step 3 also holds for every later e-mail change of a JIT user, and neither gives a user an e-mail
 * that is another user's e-mail or userName; an e-mail the IdP marks `email_verified=false` links nothing and changes
 * nothing. Inactive users are always refused. Group memberships of
 * IdP-sourced groups follow the assertion.
 */
export async function resolveSsoUser(
  t: TenantCtx,
  conn: Connection,
  p: SsoProfile,
  now: Date,
  onGroupsChanged: (userId: string) => Promise<void> = async () => {},
) {
  const refuse: Refuse = (code, message, detail) => new SsoError('user', code, message, detail, 403, {}, conn.id);
  const verified = p.emailVerified !== false;
  const domain = emailDomain(p.email);
  const domainAllowed = !!domain && conn.config.allowedDomains.includes(domain);
  // The rule JIT creation has always applied: with allowed domains set, the e-mail must be in one of them. Without
  // any, not a domain another enabled connection of the tenant lists as its own: a second IdP (a contractor's) would
  // otherwise create, or rename its users to, the first IdP's addresses before those users exist (pre-account takeover).
  const domainRuleHolds = conn.config.allowedDomains.length === 0 ? !(await claimedElsewhere(t, conn, domain)) : domainAllowed;
  const identity = await t.db.userIdentity.findUnique({ where: { connectionId_subject: { connectionId: conn.id, subject: p.subject } }, include: { user: true } });
  let user: UserRow;
  if (identity) {
    user = identity.user;
    if (user.ssoConnectionId && user.ssoConnectionId !== conn.id) {
      throw refuse('bound_elsewhere', identityMessages.boundElsewhere, `user ${user.id} is bound to connection ${user.ssoConnectionId}`);
    }
    // A refused login writes nothing: a deprovisioned user's profile and links stay as SCIM left them.
    if (!user.active) throw refuse('inactive', ssoMessages.inactive, `user ${user.id} is inactive`);
    await t.db.userIdentity.updateMany({ where: { id: identity.id }, data: { lastLoginAt: now } });
    // Users the IdP created (JIT) follow the IdP's profile; SCIM-managed users are updated only by SCIM.
    if (user.source === 'jit') user = await followIdpProfile(t, user, p, verified, domainRuleHolds, refuse);
  } else {
    if (p.email && !verified && conn.config.allowedDomains.length > 0) {
      throw refuse('email_unverified', identityMessages.emailUnverified, `email_verified=false for ${domain} e-mail; it may not link or create a user`);
    }
    const email = verified ? p.email : undefined;
    const candidate = email && domainAllowed ? await matchExisting(t, conn, email, p.subject) : null;
    if (candidate) {
      await checkLinkable(t, conn, candidate, domain!, refuse);
      if (!candidate.active) throw refuse('inactive', ssoMessages.inactive, `user ${candidate.id} is inactive`);
      user = candidate;
    } else {
      if (!domainRuleHolds) throw refuse('domain_not_allowed', identityMessages.domainNotAllowed, `e-mail domain ${domain ?? '(none)'} is not allowed for this connection`);
      if (!conn.config.jitEnabled) throw refuse('not_provisioned', ssoMessages.notProvisioned, 'no linked or matching user and JIT is off');
      user = await createJitUser(t, conn, { ...p, email }, domainAllowed, refuse);
    }
    await t.db.userIdentity.create({ data: { id: newId('uid'), tenantId: t.id, userId: user.id, connectionId: conn.id, subject: p.subject, lastLoginAt: now } });
  }
  if (!user.active) throw refuse('inactive', ssoMessages.inactive, `user ${user.id} is inactive`);
  if (p.groups && (await syncIdpGroups(t, user.id, p.groups, conn.config.jitEnabled))) await onGroupsChanged(user.id);
  return user;
}

/** A JIT user's e-mail and name follow the IdP, but the e-mail only to a verified address the connection may assert. */
async function followIdpProfile(t: TenantCtx, user: UserRow, p: SsoProfile, verified: boolean, domainRuleHolds: boolean, refuse: Refuse) {
  const emailChanges = !!p.email && p.email !== user.email && verified;
  if (emailChanges && !domainRuleHolds) {
    throw refuse('domain_not_allowed', identityMessages.domainNotAllowed, `the IdP moved user ${user.id} to an e-mail of domain ${emailDomain(p.email)}, which is not allowed for this connection`);
  }
  if (emailChanges) await refuseTakenEmail(t, user.id, p.email!, refuse);
  const fresh = { email: emailChanges ? p.email! : user.email, displayName: p.displayName ?? user.displayName };
  if (fresh.email === user.email && fresh.displayName === user.displayName) return user;
  await t.db.user.updateMany({ where: { id: user.id }, data: fresh });
  return { ...user, ...fresh };
}

/** Bound elsewhere, already linked, or claimable by another connection: the first IdP to log in must not win. */
async function checkLinkable(t: TenantCtx, conn: Connection, candidate: UserRow, domain: string, refuse: Refuse) {
  if (candidate.ssoConnectionId && candidate.ssoConnectionId !== conn.id) {
    throw refuse('bound_elsewhere', identityMessages.boundElsewhere, `user ${candidate.id} is bound to connection ${candidate.ssoConnectionId}`);
  }
  await refuseLinked(t, conn, candidate.id, refuse);
  if (candidate.ssoConnectionId === conn.id) return;
  const rivals = (await enabledConnections(t)).filter((c) => c.id !== conn.id && c.config.allowedDomains.includes(domain));
  if (rivals.length > 0) {
    throw refuse('ambiguous_domain', identityMessages.ambiguousDomain, `user ${candidate.id} is not bound to a connection and ${domain} is also allowed for ${rivals.map((c) => c.id).join(', ')}`);
  }
}

/**
 * A user already linked to an identity is never linked again. The page names which case it is: another sign-in
 * method, or this same IdP under another subject (its NameID format or user identifier changed) — the admin's fix
 * differs (the user picks the other method; the admin corrects the IdP's identifier or removes the old link).
 */
async function refuseLinked(t: TenantCtx, conn: Connection, userId: string, refuse: Refuse, prefix = `user ${userId} is `): Promise<void> {
  const links = await t.db.userIdentity.findMany({ where: { userId }, select: { connectionId: true } });
  if (links.length === 0) return;
  if (links.some((l) => l.connectionId === conn.id)) {
    throw refuse('subject_changed', identityMessages.subjectChanged, `${prefix}already linked to another subject of this connection`);
  }
  throw refuse('link_refused', ssoMessages.linkRefused, `${prefix}already linked to another identity (connection ${links.map((l) => l.connectionId).join(', ')})`);
}

async function matchExisting(t: TenantCtx, conn: Connection, email: string, subject: string) {
  if (conn.config.matchBy === 'email') return t.db.user.findFirst({ where: { email } });
  if (conn.config.matchBy === 'userName') {
    // SCIM userName is often the UPN / NameID: try it too, but only when its domain is one the IdP may assert.
    const subjectDomain = emailDomain(subject.toLowerCase());
    const keys = [email, ...(subjectDomain && conn.config.allowedDomains.includes(subjectDomain) ? [subject.toLowerCase()] : [])];
    return t.db.user.findFirst({ where: { userNameKey: { in: keys } } });
  }
  return null;
}

/** Whether another enabled connection of the tenant lists this e-mail domain as its own. */
async function claimedElsewhere(t: TenantCtx, conn: Connection, domain: string | undefined): Promise<boolean> {
  if (!domain) return false;
  return (await enabledConnections(t)).some((c) => c.id !== conn.id && c.config.allowedDomains.includes(domain));
}

/**
 * An e-mail SSO gives a user (JIT creation, a JIT user's change) is no other user's e-mail or userName: e-mails pick
 * whom Google tools act as, what MCP clients are told, and whom `matchBy: email` links — one person each.
 */
async function refuseTakenEmail(t: TenantCtx, userId: string | null, email: string, refuse: Refuse): Promise<void> {
  const key = email.toLowerCase();
  const other = await t.db.user.findFirst({ where: { OR: [{ email: key }, { userNameKey: key }], ...(userId && { id: { not: userId } }) }, select: { id: true } });
  if (other) throw refuse('email_in_use', identityMessages.emailInUse, `e-mail ${key} belongs to user ${other.id}`);
}

async function createJitUser(t: TenantCtx, conn: Connection, p: SsoProfile, domainAllowed: boolean, refuse: Refuse) {
  const userName = p.email ?? p.subject;
  // A subject shaped like an e-mail becomes the userName: it follows the same domain rule as an e-mail would.
  if (!p.email && conn.config.allowedDomains.length === 0 && (await claimedElsewhere(t, conn, emailDomain(p.subject.toLowerCase())))) {
    throw refuse('domain_not_allowed', identityMessages.domainNotAllowed, `subject ${p.subject} is in a domain another connection of this tenant lists`);
  }
  const clash = await t.db.user.findFirst({ where: { userNameKey: userName.toLowerCase() } });
  if (clash) {
    // Name the real reason: linking needs an allowed domain; with one, the matching rule or an existing link said no.
    if (!domainAllowed) throw refuse('domain_not_allowed', identityMessages.domainNotAllowed, `user ${clash.id} has userName ${userName}; this connection may not link e-mails of its domain (no allowed domain matches)`);
    await refuseLinked(t, conn, clash.id, refuse, `userName ${userName} belongs to user ${clash.id}, `);
    throw refuse('not_linkable', identityMessages.notLinkable, `userName ${userName} belongs to user ${clash.id}, which the matching rule does not link`);
  }
  if (p.email) await refuseTakenEmail(t, null, p.email, refuse);
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
