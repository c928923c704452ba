import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/** What a built-in tool learns about its caller. */
export interface ToolCaller {
  userId: string;
  clientId: string;
}


export interface BuiltinTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown>;
  run(t: TenantCtx, caller: ToolCaller, grantedTools: string[]): Promise<CallToolResult>;
}

const whoami: BuiltinTool = {
  name: 'whoami',
  description: "Who you are in this organisation: your identity, your groups, and the tools you may call.",
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  annotations: { title: 'Who am I', readOnlyHint: true, openWorldHint: false },
  async run(t, caller, grantedTools) {
    const user = await t.db.user.findFirst({
      where: { id: caller.userId },
      select: { id: true, userName: true, email: true, displayName: true },
    });
    const memberships = await t.db.groupMembership.findMany({ where: { userId: caller.userId }, select: { groupId: true } });
    const groups = await t.db.group.findMany({
      where: { id: { in: memberships.map((m) => m.groupId) } },
      select: { displayName: true },
      orderBy: { displayNameKey: 'asc' },
    });
    const info = {
      tenant: t.slug,
      user: { id: caller.userId, userName: user?.userName ?? null, email: user?.email ?? null, name: user?.displayName ?? null },
      client: caller.clientId,
      groups: groups.map((g) => g.displayName),
      tools: grantedTools,
    };
    return { content: [{ type: 'text', text: JSON.stringify(info, null, 2) }], structuredContent: info };
  },
};

/** Tools the gateway itself provides. They live in the Tool table too (kind 'builtin'), so admins can revoke them. */
export const builtinTools: ReadonlyMap<string, BuiltinTool> = new Map([[whoami.name, whoami]]);
