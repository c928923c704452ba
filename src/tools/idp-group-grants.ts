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
