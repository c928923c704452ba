import { describeTool } from '../../tools/approve-tools.js';
import { diffLines, type ToolFieldChange } from '../../tools/tool-change.js';
import { ensureBuiltinTools } from '../../tools/ensure-builtin-tools.js';
import { listUpstreams } from '../../tools/manage-upstreams.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** The tool catalog as admins see it: every tool with its description, input schema, annotations and who may call it. */
export async function toolCatalog(t: TenantCtx) {
  await ensureBuiltinTools(t);
  const rows = await t.db.tool.findMany({
    orderBy: { name: 'asc' },
    select: { id: true, name: true, kind: true, description: true, inputSchema: true, annotations: true, approved: true, everyone: true, held: true, heldChange: true, approvedAt: true, updatedAt: true, upstream: { select: { name: true } }, grants: { select: { groupId: true } }, idpGrants: { select: { source: true, idpGroupId: true, idpGroupName: true }, orderBy: { idpGroupNameKey: 'asc' } } },
  });
  const groupIds = [...new Set(rows.flatMap((r) => r.grants.map((g) => g.groupId)))];
  const groups = await t.db.group.findMany({ where: { id: { in: groupIds } }, select: { id: true, displayName: true } });
  const names = new Map(groups.map((g) => [g.id, g.displayName]));
  const tools = rows.map((r) => ({
    id: r.id,
    name: r.name,
    kind: r.kind,
    source: r.kind === 'upstream' ? (r.upstream?.name ?? 'upstream') : r.kind,
    description: r.description,
    inputSchema: r.inputSchema,
    annotations: r.annotations as Record<string, unknown>,
    approved: r.approved,
    // A held tool is out of everyone's reach until its change is reviewed, whatever its grants say.
    access: !r.approved || r.held ? 'nobody' : r.everyone ? 'everyone' : r.grants.length || r.idpGrants.length ? 'groups' : 'nobody',
    groups: r.grants.map((g) => ({ id: g.groupId, name: names.get(g.groupId) ?? g.groupId })).sort((a, b) => a.name.localeCompare(b.name)),
    idpGroups: r.idpGrants.map((g) => ({ source: g.source, id: g.idpGroupId, name: g.idpGroupName })),
    held: r.held,
    /** What the upstream changed after approval, field by field, as a line diff (approved → listed now). */
    changes: r.held && Array.isArray(r.heldChange) ? (r.heldChange as unknown as ToolFieldChange[]).map((c) => ({ field: c.field, diff: diffLines(c) })) : [],
    approvedAt: r.approvedAt,
    updatedAt: r.updatedAt,
  }));
  return { tools, upstreams: await listUpstreams(t) };
}

export { describeTool };
