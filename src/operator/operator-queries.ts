import type { Services } from '../services.js';

export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'disabled';
  signup: string | null;
  ssoConnections: number;
  users: number;
  lastScimCallAt: Date | null;
  createdAt: Date;
}

/**
 * Every tenant with its counts, for the operator view. Deliberately across tenants (the operator is deployment-level,
 * like `tenant list`): four grouped queries, not one per tenant. "Last SCIM call" is the newest use of any of the
 * tenant's SCIM tokens (the SCIM gate stamps `lastUsedAt`).
 */
export async function tenantOverview(s: Services): Promise<TenantRow[]> {
  const [tenants, conns, users, scim] = await Promise.all([
    s.db.tenant.findMany({ select: { id: true, slug: true, name: true, status: true, settings: true, createdAt: true }, orderBy: { createdAt: 'asc' } }),
    s.db.idpConnection.groupBy({ by: ['tenantId'], _count: { _all: true } }),
    s.db.user.groupBy({ by: ['tenantId'], _count: { _all: true } }),
    s.db.scimToken.groupBy({ by: ['tenantId'], _max: { lastUsedAt: true } }),
  ]);
  const count = (rows: { tenantId: string; _count: { _all: number } }[]) => new Map(rows.map((r) => [r.tenantId, r._count._all]));
  const connCount = count(conns);
  const userCount = count(users);
  const lastScim = new Map(scim.map((r) => [r.tenantId, r._max.lastUsedAt]));
  return tenants.map((t) => ({
    id: t.id,
    slug: t.slug,
    name: t.name,
    status: t.status,
    signup: ((t.settings as { signup?: { status?: string } } | null)?.signup?.status as string | undefined) ?? null,
    ssoConnections: connCount.get(t.id) ?? 0,
    users: userCount.get(t.id) ?? 0,
    lastScimCallAt: lastScim.get(t.id) ?? null,
    createdAt: t.createdAt,
  }));
}
