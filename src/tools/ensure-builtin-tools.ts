import type { Prisma } from '../generated/prisma/client.js';
import { newId } from '../lib/ids.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { builtinTools } from './builtin-tools.js';

/** Tenants whose built-in tool rows this process already created (they are never deleted, only revoked). */
const ensured = new Set<string>();

/** Whether this process already made sure the tenant's built-in tool rows exist (tools read from the database include them). */
export function builtinToolsEnsured(tenantId: string): boolean {
  return ensured.has(tenantId);
}

/**
 * Creates the built-in tool rows of a tenant the first time they are needed, approved for everyone: `whoami` only
 * reveals the caller's own data. An admin may revoke it like any other tool; an existing row is never touched again.
 */
export async function ensureBuiltinTools(t: TenantCtx): Promise<void> {
  if (ensured.has(t.id)) return;
  const existing = await t.db.tool.findMany({ where: { kind: 'builtin' }, select: { name: true } });
  const have = new Set(existing.map((r) => r.name));
  const missing = [...builtinTools.values()].filter((b) => !have.has(b.name));
  if (missing.length > 0) {
    await t.db.tool.createMany({
      data: missing.map((b) => ({
        id: newId('tool'),
        tenantId: t.id,
        name: b.name,
        kind: 'builtin',
        description: b.description,
        inputSchema: b.inputSchema as Prisma.InputJsonValue,
        annotations: b.annotations as Prisma.InputJsonValue,
        approved: true,
        everyone: true,
        approvedAt: new Date(),
      })),
      // Two nodes may race to create them; the unique (tenantId, name) keeps one.
      skipDuplicates: true,
    });
  }
  ensured.add(t.id);
}
