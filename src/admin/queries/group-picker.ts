import type { TenantCtx } from '../../tenants/tenant-context.js';

/** One choice in the console's group picker. `ref` is what approve/revoke take (a group id: never ambiguous). */
export interface PickableGroup {
  ref: string;
  name: string;
  /** Where the group comes from: pushed by SCIM, asserted at SSO login, made by hand, or read from a directory. */
  source: string;
  members: number | null;
}

/**
 * A source of groups for the picker. Today the tenant's own groups (SCIM, SSO, directory sync all land in Group); a
 * directory connector that can search the IdP's groups without importing them (Okta, Entra) adds a source here,
 * whose `ref` it must also make resolvable by approve/revoke (e.g. by importing the group on selection).
 */
export interface GroupSource {
  name: string;
  search(t: TenantCtx, query: string, limit: number): Promise<PickableGroup[]>;
}

export const localGroups: GroupSource = {
  name: 'local',
  async search(t, query, limit) {
    const q = query.trim().toLowerCase();
    const rows = await t.db.group.findMany({
      where: q ? { displayNameKey: { contains: q } } : {},
      orderBy: [{ displayNameKey: 'asc' }, { id: 'asc' }],
      take: limit,
      select: { id: true, displayName: true, source: true, _count: { select: { memberships: true } } },
    });
    return rows.map((g) => ({ ref: g.id, name: g.displayName, source: g.source, members: g._count.memberships }));
  },
};

/** Groups matching `query` from every source, deduplicated by `ref`, at most `limit`. */
export async function pickableGroups(t: TenantCtx, query = '', limit = 200, sources: GroupSource[] = [localGroups]): Promise<PickableGroup[]> {
  const seen = new Map<string, PickableGroup>();
  for (const source of sources) {
    for (const g of await source.search(t, query.slice(0, 200), limit)) if (!seen.has(g.ref)) seen.set(g.ref, g);
  }
  return [...seen.values()].slice(0, limit);
}
