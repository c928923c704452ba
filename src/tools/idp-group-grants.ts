import { badRequest } from '../lib/errors.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * Grants of a tool to IdP directory groups named by the IdP's id (`tool approve --idp-group`), made possibly before
 * anyone from the group arrived. A local group stands for such a grant when its `externalId` is the IdP group id
 * (directory sync, IdPs that push it), or when it has no `externalId` and its name is the IdP group's name as last
 * read from the IdP — Okta Group Push and SSO assertions carry only the name (docs/decisions/0021). The match is made
 * on every permission decision (callable-tools-cache.ts, list-callable-tools.ts), so a grant takes effect for members
 * as they arrive by SCIM push, SSO or sync, with the cache invalidation membership changes already publish.
 */
export interface IdpGroupRef {
  id: string;
  name: string;
}

/** Directories whose groups can be granted by id: a connector kind with a group lookup (okta-groups, google-groups). */
export const IDP_GROUP_SOURCES = ['okta', 'google'] as const;
export type IdpGroupSource = (typeof IDP_GROUP_SOURCES)[number];

/** `okta:ID`, `google:ID`, or a bare ID (Okta's, as before Google groups could be granted). */
export const IDP_GROUP_REF = /^(?:(okta|google):)?([A-Za-z0-9]{1,64})$/;

/**
 * IdP group references (`--idp-group`, the API's `idpGroups`, the picker's values) by source. A bare id is `bare`:
 * approving reads it as Okta's (the meaning it had first); revoking removes it from whichever source has it.
 */
export function parseIdpGroupRefs(refs: string[], expected = 'an IdP group id (okta:ID, google:ID, or an Okta id)'): { bySource: Record<IdpGroupSource, string[]>; bare: string[] } {
  const bySource: Record<IdpGroupSource, string[]> = { okta: [], google: [] };
  const bare: string[] = [];
  for (const raw of refs) {
    const m = IDP_GROUP_REF.exec(raw.trim());
    if (!m) throw badRequest(`--idp-group "${raw.slice(0, 80)}" is not ${expected}`);
    if (m[1]) bySource[m[1] as IdpGroupSource].push(m[2]!);
    else bare.push(m[2]!);
  }
  return { bySource, bare };
}

/**
 * Keeps the names stored with a source's IdP-group grants in step with the directory (a group search just read them);
 * a change re-evaluates the tenant's permissions, since unmatched-by-id local groups are matched by that name.
 */
export async function refreshIdpGrantNames(s: Services, t: TenantCtx, source: string, groups: { id: string; name: string }[]): Promise<void> {
  const names = new Map(groups.map((g) => [g.id, g.name]));
  const stale = (await t.db.idpGroupGrant.findMany({ where: { source, idpGroupId: { in: [...names.keys()] } }, select: { idpGroupId: true, idpGroupName: true } })).filter((r) => names.get(r.idpGroupId) !== r.idpGroupName);
  for (const id of new Set(stale.map((r) => r.idpGroupId))) {
    const name = names.get(id)!;
    await t.db.idpGroupGrant.updateMany({ where: { source, idpGroupId: id }, data: { idpGroupName: name, idpGroupNameKey: name.toLowerCase() } });
  }
  if (stale.length > 0) await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
}

export async function addIdpGroupGrants(t: TenantCtx, toolId: string, source: string, groups: IdpGroupRef[]): Promise<void> {
  for (const g of groups) {
    const data = { idpGroupName: g.name, idpGroupNameKey: g.name.toLowerCase() };
    await t.db.idpGroupGrant.upsert({
      where: { toolId_source_idpGroupId: { toolId, source, idpGroupId: g.id } },
      create: { tenantId: t.id, toolId, source, idpGroupId: g.id, ...data },
      update: data,
    });
  }
}

/** The IdP-group grants of a tool, each with the local groups that currently stand for it. */
export async function describeIdpGroupGrants(t: TenantCtx, toolId: string) {
  const grants = await t.db.idpGroupGrant.findMany({ where: { toolId }, orderBy: { idpGroupNameKey: 'asc' } });
  return Promise.all(
    grants.map(async (g) => {
      const local = await t.db.group.findMany({
        where: { OR: [{ externalId: g.idpGroupId }, { externalId: null, displayNameKey: g.idpGroupNameKey }] },
        select: { id: true },
      });
      return { source: g.source, id: g.idpGroupId, name: g.idpGroupName, localGroups: local.map((x) => x.id).sort() };
    }),
  );
}

/** What identifies the user's groups for IdP-group grants: external ids, and names of groups without one. */
export async function currentGroupKeys(t: TenantCtx, userId: string): Promise<{ ids: string[]; externalIds: string[]; nameKeys: string[] }> {
  const rows = await t.db.groupMembership.findMany({ where: { userId }, select: { group: { select: { id: true, externalId: true, displayNameKey: true } } } });
  const groups = rows.map((r) => r.group);
  return {
    ids: groups.map((g) => g.id),
    externalIds: groups.flatMap((g) => (g.externalId ? [g.externalId] : [])),
    nameKeys: groups.filter((g) => !g.externalId).map((g) => g.displayNameKey),
  };
}
