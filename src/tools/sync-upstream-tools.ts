import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { Prisma } from '../generated/prisma/client.js';
import { newId } from '../lib/ids.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export interface SyncReport {
  added: string[];
  updated: string[];
  removed: string[];
  tools: string[];
}

/** Gateway name of an upstream tool: `{upstream}__{tool}`, so two upstreams' tools never collide. */
export const gatewayToolName = (upstreamName: string, toolName: string) => `${upstreamName}__${toolName}`;

// MCP 2025-11-25 tool names: 1–128 of [A-Za-z0-9_.-]. Others are skipped rather than exposed under a mangled name.
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const json = (v: unknown) => (v ?? {}) as Prisma.InputJsonValue;

/**
 * Makes the stored tools of an upstream match what it lists now: new tools are added NOT approved (nothing is callable
 * until an admin approves it), changed descriptions and schemas are updated (approval is kept, the change is
 * reported), tools that disappeared are deleted with their grants.
 */
export async function syncUpstreamTools(t: TenantCtx, upstream: { id: string; name: string }, listed: McpTool[]): Promise<SyncReport> {
  const existing = await t.db.tool.findMany({ where: { upstreamId: upstream.id } });
  const byUpstreamName = new Map(existing.map((r) => [r.upstreamToolName, r]));
  const report: SyncReport = { added: [], updated: [], removed: [], tools: [] };
  const seen = new Set<string>();
  for (const tool of listed) {
    const name = gatewayToolName(upstream.name, tool.name);
    if (!TOOL_NAME.test(name) || seen.has(tool.name)) continue;
    seen.add(tool.name);
    report.tools.push(name);
    const fields = {
      description: tool.description ?? null,
      inputSchema: json(tool.inputSchema),
      annotations: json({ ...(tool.annotations ?? {}), ...(tool.title ? { title: tool.title } : {}) }),
    };
    const row = byUpstreamName.get(tool.name);
    if (!row) {
      await t.db.tool.create({
        data: { id: newId('tool'), tenantId: t.id, name, kind: 'upstream', upstreamId: upstream.id, upstreamToolName: tool.name, ...fields },
      });
      report.added.push(name);
    } else if (
      row.description !== fields.description ||
      JSON.stringify(row.inputSchema) !== JSON.stringify(fields.inputSchema) ||
      JSON.stringify(row.annotations) !== JSON.stringify(fields.annotations)
    ) {
      await t.db.tool.update({ where: { id: row.id }, data: fields });
      report.updated.push(name);
    }
  }
  const gone = existing.filter((r) => !seen.has(r.upstreamToolName ?? ''));
  if (gone.length > 0) await t.db.tool.deleteMany({ where: { id: { in: gone.map((r) => r.id) } } });
  report.removed = gone.map((r) => r.name);
  return report;
}
