import type { Prisma } from '../../generated/prisma/client.js';
import { servedUrl } from '../../http/served-url.js';
import type { Services } from '../../services.js';
import { listScimTokens, scimBaseUrl } from '../../scim/scim-tokens.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

const LIST_LIMIT = 100;

/** The Provisioning page's state: SCIM base URL, tokens (never the tokens themselves), the last SCIM calls. */
export async function provisioningStatus(s: Services, t: TenantCtx) {
  const base = await servedUrl(s.db, s.config.publicUrl);
  const tokens = await listScimTokens(t);
  const recent = await t.db.auditEvent.findMany({
    where: { action: { startsWith: 'scim.' } },
    orderBy: { seq: 'desc' },
    take: 20,
    select: { seq: true, createdAt: true, action: true, outcome: true, targetKind: true, targetId: true, actorKind: true, actorId: true },
  });
  return {
    mode: t.settings.provisioning,
    baseUrl: scimBaseUrl(base, t),
    /** Entra's "OAuth 2.0 client credentials grant" option: a SCIM client from `client add --scim`. */
    clientCredentials: { tokenEndpoint: `${base}/t/${t.slug}/oauth/token`, scope: 'scim' },
    tokens,
    recentCalls: recent.map((e) => ({ ...e, seq: Number(e.seq) })),
  };
}

/** Users with their source (SCIM, SSO just-in-time, manual), searchable by name or e-mail. */
export async function listUsers(t: TenantCtx, search = '', limit = LIST_LIMIT) {
  const q = search.trim().slice(0, 200);
  const where: Prisma.UserWhereInput = q
    ? { OR: [{ userNameKey: { contains: q.toLowerCase() } }, { email: { contains: q, mode: 'insensitive' } }, { displayName: { contains: q, mode: 'insensitive' } }] }
    : {};
  const rows = await t.db.user.findMany({
    where,
    orderBy: [{ userNameKey: 'asc' }, { id: 'asc' }],
    take: limit,
    select: { id: true, userName: true, displayName: true, email: true, active: true, source: true, isAdmin: true, createdAt: true, _count: { select: { memberships: true } } },
  });
  return rows.map(({ _count, ...u }) => ({ ...u, groups: _count.memberships }));
}

/** Groups with their source (SCIM, IdP at sign-in, manual/directory sync) and member counts. */
export async function listGroups(t: TenantCtx, search = '', limit = LIST_LIMIT) {
  const q = search.trim().toLowerCase().slice(0, 200);
  const rows = await t.db.group.findMany({
    where: q ? { displayNameKey: { contains: q } } : {},
    orderBy: [{ displayNameKey: 'asc' }, { id: 'asc' }],
    take: limit,
    select: { id: true, displayName: true, source: true, externalId: true, _count: { select: { memberships: true } } },
  });
  return rows.map(({ _count, ...g }) => ({ ...g, members: _count.memberships }));
}
