import { notFound } from '../../lib/errors.js';
import { listConsents } from '../../consent/consent-store.js';
import { currentGroupIds } from '../../tools/list-callable-tools.js';
import { ensureBuiltinTools } from '../../tools/ensure-builtin-tools.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

async function clientNames(t: TenantCtx, ids: string[]): Promise<Map<string, string>> {
  const rows = await t.db.oidcPayload.findMany({ where: { model: 'Client', id: { in: ids } }, select: { id: true, payload: true } });
  return new Map(rows.map((c) => [c.id, String((c.payload as { client_name?: string }).client_name ?? c.id)]));
}

/**
 * "Client X can reach tool Y for user Z", per user: the clients holding a grant or consent, the tools the user may
 * call and through which group (or everyone), the stored upstream credentials, and live browser sessions.
 */
export async function userAccess(t: TenantCtx, userId: string, now: Date) {
  const user = await t.db.user.findFirst({ where: { id: userId }, select: { id: true, userName: true, displayName: true, email: true, active: true, source: true, isAdmin: true } });
  if (!user) throw notFound(`No user ${userId}`);
  await ensureBuiltinTools(t);
  const groupIds = await currentGroupIds(t, userId);
  const groups = await t.db.group.findMany({ where: { id: { in: groupIds } }, select: { id: true, displayName: true, source: true }, orderBy: { displayNameKey: 'asc' } });
  const consents = await listConsents(t, userId);
  const grants = await t.db.oidcPayload.findMany({ where: { model: 'Grant', accountId: userId }, select: { id: true, payload: true, createdAt: true } });
  const byClient = new Map<string, { grants: number; since: Date | null }>();
  for (const g of grants) {
    const cid = String((g.payload as { clientId?: string }).clientId ?? '');
    const e = byClient.get(cid) ?? { grants: 0, since: null };
    e.grants++;
    if (!e.since || g.createdAt < e.since) e.since = g.createdAt;
    byClient.set(cid, e);
  }
  for (const c of consents) if (!byClient.has(c.clientId)) byClient.set(c.clientId, { grants: 0, since: c.grantedAt });
  const names = await clientNames(t, [...byClient.keys()]);
  const clients = [...byClient.entries()].map(([clientId, e]) => ({ clientId, name: names.get(clientId) ?? clientId, grants: e.grants, consented: consents.some((c) => c.clientId === clientId), since: e.since }));
  const tools = user.active
    ? await t.db.tool.findMany({
        where: { approved: true, OR: [{ everyone: true }, { grants: { some: { groupId: { in: groupIds } } } }] },
        select: { name: true, everyone: true, grants: { where: { groupId: { in: groupIds } }, select: { groupId: true } } },
        orderBy: { name: 'asc' },
      })
    : [];
  const groupName = new Map(groups.map((g) => [g.id, g.displayName]));
  const connections = await t.db.vaultSecret.findMany({ where: { userId }, select: { id: true, ownerKind: true, ownerId: true, updatedAt: true } });
  const sessions = await t.db.session.count({ where: { userId, revokedAt: null, expiresAt: { gt: now }, idleExpiresAt: { gt: now } } });
  return {
    user,
    groups,
    clients: clients.sort((a, b) => a.name.localeCompare(b.name)),
    tools: tools.map((x) => ({ name: x.name, via: x.everyone ? ['everyone'] : x.grants.map((g) => groupName.get(g.groupId) ?? g.groupId) })),
    connections,
    sessions,
  };
}

/** Per tool: who can call it and through which group, with the users of each group (up to `limit`). */
export async function toolAccess(t: TenantCtx, toolName: string, limit = 200) {
  await ensureBuiltinTools(t);
  const tool = await t.db.tool.findFirst({ where: { name: toolName }, select: { id: true, name: true, approved: true, everyone: true, grants: { select: { groupId: true } } } });
  if (!tool) throw notFound(`No tool named "${toolName}"`);
  if (!tool.approved) return { tool: tool.name, approved: false, everyone: false, groups: [] };
  const groups = await t.db.group.findMany({ where: { id: { in: tool.grants.map((g) => g.groupId) } }, select: { id: true, displayName: true, source: true }, orderBy: { displayNameKey: 'asc' } });
  const withUsers = await Promise.all(
    groups.map(async (g) => {
      const members = await t.db.groupMembership.findMany({ where: { groupId: g.id, user: { active: true } }, take: limit, select: { user: { select: { id: true, userName: true, displayName: true } } } });
      return { ...g, users: members.map((m) => m.user) };
    }),
  );
  return { tool: tool.name, approved: true, everyone: tool.everyone, groups: withUsers };
}
