import { findConnector } from '../../connectors/connector-store.js';
import { searchGoogleGroups } from '../../connectors/google/google-groups.js';
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
 * A source of groups for the picker: the tenant's own groups (SCIM, SSO, directory sync all land in Group), and each
 * directory connector that can search the IdP's groups without importing them (Okta, Google Workspace), whose `ref`
 * approve/revoke resolve as an IdP-group grant (idp-group-grants.ts).
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

/**
 * The Google Workspace customer's groups through the tenant's Google connector, read as its admin
 * (`admin.directory.group.readonly`, already delegated for directory sync), named by Google's id. Approving for one
 * makes an IdP-group grant like Okta's: directory sync imports Google groups with that id as `externalId`, so members
 * synced here match; SSO-asserted groups (Google's SAML app sends group names) match by name. Google's search matches
 * the start of a group's name or e-mail.
 */
export const googleGroups = (s: Services): GroupSource => ({
  name: 'google',
  async search(t, query, limit) {
    if (!(await findConnector(t, 'google'))) return [];
    const { groups } = await searchGoogleGroups(s, t, { search: query.trim().slice(0, 100), limit: Math.min(limit, IDP_GROUPS_SHOWN), signal: AbortSignal.timeout(IDP_SEARCH_TIMEOUT_MS) });
    return groups.map((g) => ({ ref: idpGroupRef('google', g.id), name: g.name, source: 'Google Workspace', members: null }));
  },
});

/** The picker's sources for a tenant: its own groups, then the IdP's through each directory connector it has. */
export const groupSources = (s: Services): GroupSource[] => [localGroups, oktaGroups(s), googleGroups(s)];

/**
 * What the picker says about directories it does not search. Entra groups are not searched in Microsoft Graph: the
 * Microsoft connector holds delegated (on-behalf-of) permissions for tools, not an application permission to read
 * every group, so its groups are the local ones Entra provisioning (SCIM) pushed or sign-ins asserted.
 */
export async function pickerNotes(t: TenantCtx): Promise<string[]> {
  return (await findConnector(t, 'microsoft'))
    ? ['Microsoft Entra groups appear here as your own groups once Entra provisioning (SCIM) pushes them or a member signs in; they are not searched in Entra directly.']
    : [];
}

/**
 * Groups matching `query` from every source, deduplicated by `ref`, at most `limit`. A source that fails (the IdP
 * unreachable, a missing scope) does not hide the others: it is named in `unavailable` with its public reason.
 */
export async function pickableGroups(t: TenantCtx, query = '', limit = 200, sources: GroupSource[] = [localGroups]): Promise<{ groups: PickableGroup[]; unavailable: { source: string; reason: string }[]; notes: string[] }> {
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
  return { groups: [...seen.values()].slice(0, limit), unavailable, notes: await pickerNotes(t) };
}
