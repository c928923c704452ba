import { findConnector } from '../../connectors/connector-store.js';
import { searchIdpGroups } from '../../connectors/okta/okta-groups.js';
import { AppError } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** The picker's value for an IdP directory group (never a local group id: those have no colon). */
export const idpGroupRef = (source: string, id: string) => `${source}:${id}`;

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

/** Waiting longer than this for the IdP would hold up the Tools page; its groups are then reported unavailable. */
const IDP_SEARCH_TIMEOUT_MS = 5_000;
const IDP_GROUPS_SHOWN = 50;

/**
 * The Okta org's groups through the tenant's Okta connector (decision 0021), named by Okta's id: approving for one
 * makes an IdP-group grant (approveTool's `idpGroupIds`), effective for members as they arrive by SCIM, SSO or sync.
 * No connector: no groups. Okta's group search matches the start of names (its `q`).
 */
export const oktaGroups = (s: Services): GroupSource => ({
  name: 'okta',
  async search(t, query, limit) {
    if (!(await findConnector(t, 'okta'))) return [];
    const { groups } = await searchIdpGroups(s, t, { search: query.trim().slice(0, 100), limit: Math.min(limit, IDP_GROUPS_SHOWN), signal: AbortSignal.timeout(IDP_SEARCH_TIMEOUT_MS) });
    return groups.map((g) => ({ ref: idpGroupRef('okta', g.id), name: g.name, source: g.assignedToApp ? 'Okta (assigned to this app)' : 'Okta', members: null }));
  },
});

/** The picker's sources for a tenant: its own groups, then the IdP's through a directory connector. */
export const groupSources = (s: Services): GroupSource[] => [localGroups, oktaGroups(s)];

/**
 * Groups matching `query` from every source, deduplicated by `ref`, at most `limit`. A source that fails (the IdP
 * unreachable, a missing scope) does not hide the others: it is named in `unavailable` with its public reason.
 */
export async function pickableGroups(t: TenantCtx, query = '', limit = 200, sources: GroupSource[] = [localGroups]): Promise<{ groups: PickableGroup[]; unavailable: { source: string; reason: string }[] }> {
  const seen = new Map<string, PickableGroup>();
  const unavailable: { source: string; reason: string }[] = [];
  for (const source of sources) {
    let found: PickableGroup[];
    try {
      found = await source.search(t, query.slice(0, 200), limit);
    } catch (err) {
      unavailable.push({ source: source.name, reason: err instanceof AppError && err.expose ? err.message : 'could not be reached' });
      continue;
    }
    for (const g of found) if (!seen.has(g.ref)) seen.set(g.ref, g);
  }
  return { groups: [...seen.values()].slice(0, limit), unavailable };
}
