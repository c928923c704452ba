import { findUserByLogin } from '../users/bind-user.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * A tenant admin is a user granted with `admin grant` (bootstrap) or a member of the group named by the tenant's
 * `adminGroup` setting (issue 4 §7). Inactive users are never admins.
 */
export async function isTenantAdmin(t: TenantCtx, userId: string): Promise<boolean> {
  const user = await t.db.user.findFirst({ where: { id: userId }, select: { active: true, isAdmin: true } });
  if (!user?.active) return false;
  if (user.isAdmin) return true;
  const group = t.settings.adminGroup?.trim();
  if (!group) return false;
  const member = await t.db.groupMembership.count({ where: { userId, group: { displayNameKey: group.toLowerCase() } } });
  return member > 0;
}

/** `admin grant --tenant S --email E`. */
export async function grantAdmin(t: TenantCtx, email: string) {
  const user = await findUserByLogin(t, email);
  await t.db.user.updateMany({ where: { id: user.id }, data: { isAdmin: true } });
  return { id: user.id, email: user.email, userName: user.userName, isAdmin: true };
}
