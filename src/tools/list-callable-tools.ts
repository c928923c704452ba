import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { ensureBuiltinTools } from './ensure-builtin-tools.js';
import { currentGroupKeys } from './idp-group-grants.js';

/** A tool a user may call right now, as the MCP endpoint lists it and the consent page shows it. */
export interface CallableTool {
  id: string;
  /** The name clients see: `whoami`, `{upstream}__{tool}` for upstream tools, `{kind}__{tool}` for connector tools. */
  name: string;
  kind: 'builtin' | 'upstream' | 'connector';
  description: string | null;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown>;
  upstreamId: string | null;
  upstreamToolName: string | null;
}

export type ToolRow = {
  id: string;
  name: string;
  kind: string;
  description: string | null;
  inputSchema: unknown;
  annotations: unknown;
  upstreamId: string | null;
  upstreamToolName: string | null;
};

const asObject = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

export function toCallableTool(row: ToolRow): CallableTool {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind === 'builtin' || row.kind === 'connector' ? row.kind : 'upstream',
    description: row.description,
    inputSchema: asObject(row.inputSchema),
    annotations: asObject(row.annotations),
    upstreamId: row.upstreamId,
    upstreamToolName: row.upstreamToolName,
  };
}

/** The user's current groups. Read on every decision, so SCIM and SSO membership changes apply to the next request. */
export async function currentGroupIds(t: TenantCtx, userId: string): Promise<string[]> {
  const rows = await t.db.groupMembership.findMany({ where: { userId }, select: { groupId: true } });
  return rows.map((r) => r.groupId);
}

/**
 * The Prisma filter for "approved, and for everyone, for one of these groups, or for an IdP group one of them stands
 * for" (idp-group-grants.ts: by external id, or by name for groups without one).
 */
export const callableWhere = (groupIds: string[], idp: { externalIds: string[]; nameKeys: string[] } = { externalIds: [], nameKeys: [] }) => ({
  approved: true,
  held: false,
  OR: [
    { everyone: true },
    { grants: { some: { groupId: { in: groupIds } } } },
    { idpGrants: { some: { OR: [{ idpGroupId: { in: idp.externalIds } }, { idpGroupNameKey: { in: idp.nameKeys } }] } } },
  ],
});

/**
 * The tools this user may call now: approved tools granted to everyone or to a group the user currently belongs to.
 * An inactive or unknown user may call nothing. Used by tools/list and by the consent page.
 */
export async function listCallableTools(_s: Services, t: TenantCtx, userId: string): Promise<CallableTool[]> {
  await ensureBuiltinTools(t);
  const user = await t.db.user.findFirst({ where: { id: userId, active: true }, select: { id: true } });
  if (!user) return [];
  const groups = await currentGroupKeys(t, userId);
  const rows = await t.db.tool.findMany({ where: callableWhere(groups.ids, groups), orderBy: { name: 'asc' } });
  return rows.map(toCallableTool);
}
