import type { Services } from '../services.js';
import { Prisma } from '../generated/prisma/client.js';
import { conflict, notFound } from '../lib/errors.js';
import { diffLines, type ToolFieldChange } from './tool-change.js';
import { findGroups } from '../tenants/find-groups.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { getGoogleGroups } from '../connectors/google/google-groups.js';
import { getIdpGroups } from '../connectors/okta/okta-groups.js';
import { ensureBuiltinTools } from './ensure-builtin-tools.js';
import { addIdpGroupGrants, describeIdpGroupGrants, parseIdpGroupRefs } from './idp-group-grants.js';

async function getTool(t: TenantCtx, name: string) {
  await ensureBuiltinTools(t);
  const tool = await t.db.tool.findFirst({ where: { name } });
  if (!tool) throw notFound(`No tool named "${name}" (see: tool list)`);
  return tool;
}

/**
 * Approves a tool for everyone (no groups) or for the given groups only (ids, or names that are not ambiguous), and/or
 * for IdP groups named by the IdP's id (`idpGroupIds`: `okta:ID`, `google:ID`, or a bare Okta id — each looked up in
 * that directory through the tenant's connector), which may have no member here yet (idp-group-grants.ts). A group grant follows current membership:
 * who may call the tool is decided from GroupMembership on every request.
 */
export async function approveTool(s: Services, t: TenantCtx, name: string, groupNames: string[], idpGroupIds: string[] = []) {
  const tool = await getTool(t, name);
  const groups = groupNames.length > 0 ? await findGroups(t, groupNames) : [];
  const refs = parseIdpGroupRefs(idpGroupIds, 'an Okta group id (00g…; see: connector groups), nor google:ID');
  const okta = [...refs.bare, ...refs.bySource.okta];
  const oktaGroups = okta.length > 0 ? await getIdpGroups(s, t, okta) : [];
  const googleGroups = refs.bySource.google.length > 0 ? await getGoogleGroups(s, t, refs.bySource.google) : [];
  const idpGroups = [...oktaGroups, ...googleGroups];
  if (groups.length > 0) {
    await t.db.toolGrant.createMany({ data: groups.map((g) => ({ tenantId: t.id, toolId: tool.id, groupId: g.id })), skipDuplicates: true });
  }
  await addIdpGroupGrants(t, tool.id, 'okta', oktaGroups);
  await addIdpGroupGrants(t, tool.id, 'google', googleGroups);
  await t.db.tool.updateMany({
    where: { id: tool.id },
    // Approving again is how an admin accepts a held tool's change (tool-poisoning guard): the hold is lifted.
    data: {
      approved: true,
      everyone: groups.length === 0 && idpGroups.length === 0,
      approvedAt: tool.held ? s.clock.now() : (tool.approvedAt ?? s.clock.now()),
      held: false,
      heldChange: Prisma.DbNull,
    },
  });
  if (tool.held) {
    await s.audit.record(t, { actor: { kind: 'admin-cli' }, action: 'tool.change.approved', target: { kind: 'tool', id: tool.id }, outcome: 'success', detail: { tool: tool.name } });
  }
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return describeTool(t, name);
}

/** A held tool (tool-poisoning guard), or 404/409: accepting or refusing a change needs one to be waiting. */
async function heldTool(t: TenantCtx, name: string) {
  const tool = await getTool(t, name);
  if (!tool.held) throw conflict(`Tool "${name}" has no change waiting for review`);
  return tool;
}

/**
 * Accepts the change an upstream made to an approved tool: the hold is lifted and the tool keeps the access it had
 * (everyone, or the same groups and IdP groups) — unlike `approveTool` without groups, which would widen a group
 * grant to everyone. The stored fields are already what the upstream lists now, so they become the approved ones.
 */
export async function acceptToolChange(s: Services, t: TenantCtx, name: string) {
  const tool = await heldTool(t, name);
  await t.db.tool.updateMany({ where: { id: tool.id, held: true }, data: { held: false, heldChange: Prisma.DbNull, approvedAt: s.clock.now() } });
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return describeTool(t, name);
}

/**
 * Refuses the change: the tool is revoked (grants removed, not approved) and the hold lifted, so it stays out of
 * everyone's reach with the upstream's new definition stored; approving it later is a fresh decision on that text.
 */
export async function rejectToolChange(s: Services, t: TenantCtx, name: string) {
  const tool = await heldTool(t, name);
  await t.db.toolGrant.deleteMany({ where: { toolId: tool.id } });
  await t.db.idpGroupGrant.deleteMany({ where: { toolId: tool.id } });
  await t.db.tool.updateMany({ where: { id: tool.id }, data: { approved: false, everyone: false, approvedAt: null, held: false, heldChange: Prisma.DbNull } });
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return describeTool(t, name);
}

/** Revokes a tool entirely (no groups) or only the named groups' / IdP groups' grants. Takes effect on the next MCP request. */
export async function revokeTool(s: Services, t: TenantCtx, name: string, groupNames: string[], idpGroupIds: string[] = []) {
  const tool = await getTool(t, name);
  if (groupNames.length > 0 || idpGroupIds.length > 0) {
    if (groupNames.length > 0) {
      const groups = await findGroups(t, groupNames);
      await t.db.toolGrant.deleteMany({ where: { toolId: tool.id, groupId: { in: groups.map((g) => g.id) } } });
    }
    const refs = parseIdpGroupRefs(idpGroupIds);
    // A bare id (as before sources were named) is removed from whichever directory has it.
    const matches = [...(refs.bare.length ? [{ idpGroupId: { in: refs.bare } }] : []), ...Object.entries(refs.bySource).filter(([, ids]) => ids.length).map(([source, ids]) => ({ source, idpGroupId: { in: ids } }))];
    if (matches.length > 0) await t.db.idpGroupGrant.deleteMany({ where: { toolId: tool.id, OR: matches } });
  } else {
    await t.db.toolGrant.deleteMany({ where: { toolId: tool.id } });
    await t.db.idpGroupGrant.deleteMany({ where: { toolId: tool.id } });
    await t.db.tool.updateMany({ where: { id: tool.id }, data: { approved: false, everyone: false, approvedAt: null } });
  }
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return describeTool(t, name);
}

/** A tool as admins see it: who may call it. */
export async function describeTool(t: TenantCtx, name: string) {
  const tool = await getTool(t, name);
  const grants = await t.db.toolGrant.findMany({ where: { toolId: tool.id }, select: { groupId: true } });
  const groups = await t.db.group.findMany({ where: { id: { in: grants.map((g) => g.groupId) } }, select: { displayName: true } });
  const groupNames = groups.map((g) => g.displayName).sort();
  const idpGroups = await describeIdpGroupGrants(t, tool.id);
  const access = !tool.approved || tool.held ? 'nobody' : tool.everyone ? 'everyone' : groupNames.length > 0 || idpGroups.length > 0 ? 'groups' : 'nobody';
  const changes = tool.held && Array.isArray(tool.heldChange) ? (tool.heldChange as unknown as ToolFieldChange[]) : [];
  return {
    id: tool.id,
    name: tool.name,
    kind: tool.kind,
    approved: tool.approved,
    access,
    groups: groupNames,
    idpGroups,
    description: tool.description,
    // Held: the upstream changed the tool after approval; `tool approve` accepts the change (docs/tools.md).
    ...(tool.held && { held: true, changes: changes.map((c) => ({ field: c.field, diff: diffLines(c) })) }),
  };
}

export async function listTools(t: TenantCtx) {
  await ensureBuiltinTools(t);
  const rows = await t.db.tool.findMany({ orderBy: { name: 'asc' }, select: { name: true } });
  return Promise.all(rows.map((r) => describeTool(t, r.name)));
}
