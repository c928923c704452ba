import type { Prisma } from '../generated/prisma/client.js';
import { conflict, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { ConnectorKind, ToolProvider } from './connector-tool.js';
import { lastReconcileRun } from './reconcile/reconcile-runs.js';
import { deleteEntraTokens } from './microsoft/entra-token-store.js';
import { canonicalJson } from '../tools/tool-change.js';

export interface ConnectorRow {
  id: string;
  kind: string;
  config: unknown;
  secretId: string | null;
  lastSync: unknown;
  lastSyncAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const json = (v: unknown) => v as Prisma.InputJsonValue;

/** The tenant's connector of this kind, or null. */
export async function findConnector(t: TenantCtx, kind: ConnectorKind): Promise<ConnectorRow | null> {
  return t.db.connector.findFirst({ where: { kind } });
}

/** One connector by id, or by kind when only one may exist (`--id` optional in the CLI). */
export async function getConnector(t: TenantCtx, id: string | undefined, kind?: ConnectorKind): Promise<ConnectorRow> {
  const row = id ? await t.db.connector.findFirst({ where: { id } }) : await t.db.connector.findFirst({ where: kind ? { kind } : {}, orderBy: { createdAt: 'asc' } });
  if (!row) throw notFound(id ? `No connector ${id}` : 'This tenant has no connector');
  if (!id && !kind && (await t.db.connector.count()) > 1) throw conflict('This tenant has several connectors: pass --id');
  return row;
}

/**
 * Stores a validated connector with its credential in the vault, and its tools unapproved. One per kind: the tools
 * are named `{kind}__…`, so a second one would collide.
 */
export async function createConnector(
  s: Services,
  t: TenantCtx,
  /** `secret: null`: the credential is deployment-level (Google Marketplace publisher key), not the tenant's. */
  input: { kind: ConnectorKind; config: Record<string, unknown>; secret: string | null },
  provider: ToolProvider,
): Promise<ConnectorRow> {
  if (await findConnector(t, input.kind)) throw conflict(`This tenant already has a ${input.kind} connector: remove it first`);
  const id = newId('con');
  const secretId = input.secret === null ? null : await s.vault.put(t, { kind: 'connector', id }, input.secret);
  const row = await t.db.connector.create({ data: { id, tenantId: t.id, kind: input.kind, config: json(input.config), secretId } });
  await syncConnectorTools(t, provider);
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return row;
}

/**
 * Makes the Tool rows of a provider match its code: new tools join NOT approved, changed descriptions/schemas are
 * updated (approval kept), tools no longer provided are deleted with their grants.
 */
export async function syncConnectorTools(t: TenantCtx, provider: ToolProvider): Promise<{ tools: string[]; changed: boolean }> {
  const prefix = `${provider.kind}__`;
  const existing = await t.db.tool.findMany({ where: { kind: 'connector', name: { startsWith: prefix } } });
  const byName = new Map(existing.map((r) => [r.name, r]));
  let changed = false;
  for (const tool of provider.tools) {
    const fields = { description: tool.description, inputSchema: json(tool.inputSchema), annotations: json(tool.annotations) };
    const row = byName.get(tool.name);
    if (!row) {
      await t.db.tool.create({ data: { id: newId('tool'), tenantId: t.id, name: tool.name, kind: 'connector', ...fields } });
      changed = true;
    } else if (row.description !== fields.description || canonicalJson(row.inputSchema) !== canonicalJson(fields.inputSchema) || canonicalJson(row.annotations) !== canonicalJson(fields.annotations)) {
      await t.db.tool.updateMany({ where: { id: row.id }, data: fields });
      changed = true;
    }
  }
  const names = new Set(provider.tools.map((x) => x.name));
  const gone = existing.filter((r) => !names.has(r.name)).map((r) => r.id);
  if (gone.length > 0) await t.db.tool.deleteMany({ where: { id: { in: gone } } });
  return { tools: provider.tools.map((x) => x.name), changed: changed || gone.length > 0 };
}

/** A sync summary without the directory state kept for the next run (ETags and the last listing: bulky, internal). */
function withoutState(lastSync: unknown): unknown {
  if (!lastSync || typeof lastSync !== 'object') return lastSync;
  const { state: _state, ...summary } = lastSync as Record<string, unknown>;
  return summary;
}

/** Connectors with their non-secret settings; credentials are never shown. */
export async function listConnectors(t: TenantCtx) {
  const rows = await t.db.connector.findMany({ orderBy: { createdAt: 'asc' } });
  const tools = await t.db.tool.findMany({ where: { kind: 'connector' }, select: { name: true, approved: true } });
  const reconciled = await lastReconcileRun(t);
  return rows.map((r) => {
    const mine = tools.filter((x) => x.name.startsWith(`${r.kind}__`));
    return {
      id: r.id,
      kind: r.kind,
      config: r.config,
      hasCredentials: r.secretId !== null,
      tools: mine.length,
      approvedTools: mine.filter((x) => x.approved).length,
      lastSyncAt: r.lastSyncAt,
      lastSync: withoutState(r.lastSync),
      // The tenant's last reconciliation, on the connector it read (docs/reconciliation.md).
      ...(reconciled?.connectorId === r.id && { lastReconcile: reconciled }),
      createdAt: r.createdAt,
    };
  });
}

/** Removes a connector, its tools with their grants, and its stored credential; calls stop at once on every node. */
export async function removeConnector(s: Services, t: TenantCtx, id: string | undefined): Promise<{ id: string; kind: string; removed: true }> {
  const row = await getConnector(t, id);
  await t.db.tool.deleteMany({ where: { kind: 'connector', name: { startsWith: `${row.kind}__` } } });
  await t.db.connector.deleteMany({ where: { id: row.id } });
  if (row.secretId) await s.vault.remove(t, row.secretId);
  // Microsoft: the users' Entra refresh tokens exist only for this connector (disconnect).
  if (row.kind === 'microsoft') await deleteEntraTokens(t);
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return { id: row.id, kind: row.kind, removed: true };
}
