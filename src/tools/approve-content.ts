import type { Services } from '../services.js';
import { conflict, notFound } from '../lib/errors.js';
import { findGroups } from '../tenants/find-groups.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { upstreamPrefix } from './upstream-names.js';

async function getUpstream(t: TenantCtx, name: string) {
  const row = await t.db.upstream.findFirst({ where: { name } });
  if (!row) throw notFound(`No upstream named "${name}"`);
  return row;
}

/**
 * Approves the prompts and resources of an upstream as one set (they are documents and templates the upstream may
 * change at any time, so they are approved per upstream, not item by item): for everyone (no groups) or for the given
 * groups, whose current membership is checked on every request. Two unprefixed upstreams cannot both expose
 * content: an unprefixed resource URI must name exactly one upstream.
 */
export async function approveContent(s: Services, t: TenantCtx, name: string, groupNames: string[]) {
  const up = await getUpstream(t, name);
  if (upstreamPrefix(up) === '') {
    const other = await t.db.upstream.findFirst({ where: { prefix: '', contentApproved: true, id: { not: up.id } }, select: { name: true } });
    if (other) throw conflict(`The unprefixed upstream "${other.name}" already exposes prompts and resources; give one of them a prefix`);
  }
  const groups = groupNames.length > 0 ? await findGroups(t, groupNames) : [];
  if (groups.length > 0) {
    await t.db.upstreamContentGrant.createMany({ data: groups.map((g) => ({ tenantId: t.id, upstreamId: up.id, groupId: g.id })), skipDuplicates: true });
  }
  await t.db.upstream.updateMany({ where: { id: up.id }, data: { contentApproved: true, contentEveryone: groups.length === 0 } });
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return describeContent(t, name);
}

/** Revokes an upstream's prompts and resources entirely (no groups) or for the named groups only. */
export async function revokeContent(s: Services, t: TenantCtx, name: string, groupNames: string[]) {
  const up = await getUpstream(t, name);
  if (groupNames.length > 0) {
    const groups = await findGroups(t, groupNames);
    await t.db.upstreamContentGrant.deleteMany({ where: { upstreamId: up.id, groupId: { in: groups.map((g) => g.id) } } });
  } else {
    await t.db.upstreamContentGrant.deleteMany({ where: { upstreamId: up.id } });
    await t.db.upstream.updateMany({ where: { id: up.id }, data: { contentApproved: false, contentEveryone: false } });
  }
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return describeContent(t, name);
}

/** Who may use an upstream's prompts and resources. */
export async function describeContent(t: TenantCtx, name: string) {
  const up = await getUpstream(t, name);
  const grants = await t.db.upstreamContentGrant.findMany({ where: { upstreamId: up.id }, select: { groupId: true } });
  const groups = await t.db.group.findMany({ where: { id: { in: grants.map((g) => g.groupId) } }, select: { displayName: true } });
  const groupNames = groups.map((g) => g.displayName).sort();
  const access = !up.contentApproved ? 'nobody' : up.contentEveryone ? 'everyone' : groupNames.length > 0 ? 'groups' : 'nobody';
  return { id: up.id, name: up.name, prefix: upstreamPrefix(up), content: access, groups: groupNames };
}
