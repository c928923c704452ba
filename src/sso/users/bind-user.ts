import { notFound } from '../../lib/errors.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** A user by e-mail or SCIM userName (case-insensitive), as admins name them on the command line. */
export async function findUserByLogin(t: TenantCtx, login: string) {
  const key = login.trim().toLowerCase();
  const user = await t.db.user.findFirst({ where: { OR: [{ email: key }, { userNameKey: key }] } });
  if (!user) throw notFound(`No user with e-mail ${login} in tenant ${t.slug}`);
  return user;
}

/**
 * `user bind`: the admin chooses the one connection that may link (and sign in) this user — for users provisioned
 * before their SCIM token was bound, or when two connections assert the same domain (issue 8 §4). `none` unbinds.
 * Identities the user already has through other connections stop working (the login is refused as bound elsewhere).
 */
export async function bindUser(t: TenantCtx, login: string, connection: string) {
  const user = await findUserByLogin(t, login);
  const connectionId = connection === 'none' ? null : connection;
  if (connectionId && !(await t.db.idpConnection.findFirst({ where: { id: connectionId }, select: { id: true } }))) {
    throw notFound(`No IdP connection ${connectionId} in tenant ${t.slug}`);
  }
  await t.db.user.updateMany({ where: { id: user.id }, data: { ssoConnectionId: connectionId } });
  const identities = await t.db.userIdentity.findMany({ where: { userId: user.id }, select: { connectionId: true } });
  const refused = connectionId ? identities.map((i) => i.connectionId).filter((c) => c !== connectionId) : [];
  return { id: user.id, email: user.email, ssoConnectionId: connectionId, ...(refused.length > 0 && { identitiesNowRefused: refused }) };
}
