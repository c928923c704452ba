import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { Prisma } from '../generated/prisma/client.js';
import { CONNECTOR_KINDS } from '../connectors/connector-tool.js';
import { newId } from '../lib/ids.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { toolChanges, type ToolFieldChange, type ToolFields } from './tool-change.js';
import { gatewayName, upstreamPrefix, type NamedUpstream } from './upstream-names.js';

export interface HeldTool {
  tool: string;
  /** Each changed field, as approved and as listed now. */
  changes: ToolFieldChange[];
  /** This refresh changed it (false: it was already held and the upstream lists the same as last time). */
  changedNow: boolean;
}

export interface SyncReport {
  added: string[];
  updated: string[];
  removed: string[];
  tools: string[];
  /** Approved tools the upstream changed: held (not listed, not callable) until an admin approves them again. */
  held: HeldTool[];
  /** Listed tools whose gateway name another tool of the tenant already has: not added (choose a prefix). */
  conflicts: string[];
}

// MCP 2025-11-25 tool names: 1–128 of [A-Za-z0-9_.-]. Others are skipped rather than exposed under a mangled name.
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const json = (v: unknown) => (v ?? {}) as Prisma.InputJsonValue;

/** Connector tools are `{kind}__…`, whether or not the connector exists yet: an unprefixed upstream may not take them. */
const isReserved = (name: string) => CONNECTOR_KINDS.some((kind) => name.toLowerCase().startsWith(`${kind}__`));

/** The gateway names an upstream's listed tools would take, for the collision check of `upstream add`. */
export function listedToolNames(upstream: NamedUpstream, listed: McpTool[]): string[] {
  return listed.map((tool) => gatewayName(upstreamPrefix(upstream), tool.name)).filter((name) => TOOL_NAME.test(name));
}

/** What the approval covered: the fields as approved, even after a hold replaced the stored ones. */
function approvedFields(row: ToolFields & { heldChange: unknown }): ToolFields {
  const approved: ToolFields = { description: row.description, inputSchema: row.inputSchema, annotations: row.annotations };
  if (Array.isArray(row.heldChange)) for (const c of row.heldChange as ToolFieldChange[]) (approved as unknown as Record<string, unknown>)[c.field] = c.before;
  return approved;
}

/**
 * Makes the stored tools of an upstream match what it lists now: new tools are added NOT approved (nothing is
 * callable until an admin approves it), tools that disappeared are deleted with their grants. A changed description,
 * input schema or annotation of an APPROVED tool is the tool-poisoning case (an upstream rewrites what the model
 * reads after the admin looked): the tool is held — kept out of tools/list and tools/call — with what changed, until
 * an admin approves it again (`tool approve`); changed unapproved tools are just updated. An upstream that goes
 * back to exactly what was approved releases the hold.
 */
export async function syncUpstreamTools(t: TenantCtx, upstream: { id: string } & NamedUpstream, listed: McpTool[]): Promise<SyncReport> {
  const existing = await t.db.tool.findMany({ where: { upstreamId: upstream.id } });
  const byUpstreamName = new Map(existing.map((r) => [r.upstreamToolName, r]));
  const taken = new Set(
    (await t.db.tool.findMany({ where: { OR: [{ upstreamId: null }, { upstreamId: { not: upstream.id } }] }, select: { name: true } })).map((r) => r.name),
  );
  const report: SyncReport = { added: [], updated: [], removed: [], tools: [], held: [], conflicts: [] };
  const seen = new Set<string>();
  const prefix = upstreamPrefix(upstream);
  for (const tool of listed) {
    const name = gatewayName(prefix, tool.name);
    if (!TOOL_NAME.test(name) || seen.has(tool.name)) continue;
    const row = byUpstreamName.get(tool.name);
    if (!row && (taken.has(name) || isReserved(name))) {
      report.conflicts.push(name);
      continue;
    }
    seen.add(tool.name);
    report.tools.push(name);
    const fields = {
      description: tool.description ?? null,
      inputSchema: json(tool.inputSchema),
      annotations: json({ ...(tool.annotations ?? {}), ...(tool.title ? { title: tool.title } : {}) }),
    };
    if (!row) {
      await t.db.tool.create({
        data: { id: newId('tool'), tenantId: t.id, name, kind: 'upstream', upstreamId: upstream.id, upstreamToolName: tool.name, ...fields },
      });
      report.added.push(name);
      continue;
    }
    const changed = toolChanges(row, fields).length > 0;
    if (changed) report.updated.push(name);
    if (!row.approved) {
      if (changed) await t.db.tool.update({ where: { id: row.id }, data: fields });
      continue;
    }
    // Compared with what the admin approved, not with the last listing: a held tool stays held (and reported) until
    // approved again or back to exactly the approved definition.
    const changes = toolChanges(approvedFields(row), fields);
    if (changed || row.held) {
      await t.db.tool.update({
        where: { id: row.id },
        data: { ...fields, held: changes.length > 0, heldChange: changes.length > 0 ? json(changes) : Prisma.DbNull },
      });
    }
    if (changes.length > 0) report.held.push({ tool: name, changes, changedNow: changed });
  }
  const gone = existing.filter((r) => !seen.has(r.upstreamToolName ?? ''));
  if (gone.length > 0) await t.db.tool.deleteMany({ where: { id: { in: gone.map((r) => r.id) } } });
  report.removed = gone.map((r) => r.name);
  return report;
}
