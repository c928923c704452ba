import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { ensureBuiltinTools } from './ensure-builtin-tools.js';
import { toCallableTool, type CallableTool, type ToolRow } from './list-callable-tools.js';
import type { UpstreamRef } from './upstream-pool.js';

export type CallableToolWithUpstream = CallableTool & { upstream: UpstreamRef | null };

interface Row extends ToolRow {
  upUrl: string | null;
  upHeadersSecretId: string | null;
  upUpdatedAt: Date | null;
  upAuthMode: string | null;
}

interface Entry {
  tenantId: string;
  userId: string;
  loadedAt: number;
  /** Monotonic (`EventBus.now`), for the bus's trust bound; `loadedAt` is the business clock for the backstop. */
  busLoadedAt: number;
  tools: Promise<Map<string, CallableToolWithUpstream>>;
}

const MAX_ENTRIES = 10_000;
/** A backstop only: every change that matters is announced on the bus and drops the entry at once. */
const MAX_AGE_MS = 60_000;

/**
 * The tools each user may call now — user active, tool approved, for everyone, for a group the user is in or for an
 * IdP group one of the user's groups stands for (idp-group-grants.ts) — as the
 * MCP endpoint decides them for tools/list and tools/call. Cached per (tenant, user) on this node, because a
 * permission query per call was the largest database cost of the hot path.
 *
 * The cache obeys the event bus exactly like the token cache: `tools.changed` (approve, revoke, upstream add /
 * refresh / remove), `tenant.changed` drop the tenant's entries; `user.changed` (SCIM user or group membership
 * change, SSO group sync), `members.changed` (one SCIM group change set) and `user.revoked` drop the users'. Publishers commit first and publish after, and an
 * entry still loading is dropped too, so the first request after an event reads the database again: revocation
 * takes effect on the very next request on the node that made the change, and on the others when NOTIFY arrives.
 * Any new code path that changes approval, grants, membership or a user's `active` flag must publish one of these.
 */
export class CallableToolsCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly s: Pick<Services, 'bus' | 'clock'>) {
    s.bus.subscribe((e) => {
      if (e.type === 'bus.resumed') this.#entries.clear();
      else if (e.type === 'tools.changed' || e.type === 'tenant.changed') this.#drop((x) => x.tenantId === e.tenantId);
      else if (e.type === 'user.changed' || e.type === 'user.revoked') this.#drop((x) => x.tenantId === e.tenantId && x.userId === e.userId);
      else if (e.type === 'members.changed') this.#drop((x) => x.tenantId === e.tenantId && (e.userIds === null || e.userIds.includes(x.userId)));
    });
  }

  /** The user's callable tools, sorted by name. */
  async list(t: TenantCtx, userId: string): Promise<CallableToolWithUpstream[]> {
    return [...(await this.#load(t, userId)).values()];
  }

  /** One tool by name if this user may call it now, else null (unknown, unapproved, not granted, user inactive). */
  async find(t: TenantCtx, userId: string, name: string): Promise<CallableToolWithUpstream | null> {
    return (await this.#load(t, userId)).get(name) ?? null;
  }

  get size(): number {
    return this.#entries.size;
  }

  #drop(match: (e: Entry) => boolean): void {
    for (const [key, entry] of this.#entries) if (match(entry)) this.#entries.delete(key);
  }

  #load(t: TenantCtx, userId: string): Promise<Map<string, CallableToolWithUpstream>> {
    const key = `${t.id}\u0000${userId}`;
    const now = this.s.clock.now().getTime();
    const hit = this.#entries.get(key);
    if (hit && now - hit.loadedAt < MAX_AGE_MS && this.s.bus.trusts(hit.busLoadedAt)) return hit.tools;
    if (hit) this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    const entry: Entry = { tenantId: t.id, userId, loadedAt: now, busLoadedAt: this.s.bus.now(), tools: queryCallableTools(t, userId) };
    this.#entries.set(key, entry);
    // A failed load must not stay cached.
    entry.tools.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry.tools;
  }
}

/**
 * The whole decision in one SQL round trip. Raw SQL bypasses the tenant-scoped client, so every table is bound to
 * the tenant explicitly (test/mcp/mcp-tools.test.ts has the cross-tenant case).
 */
async function queryCallableTools(t: TenantCtx, userId: string): Promise<Map<string, CallableToolWithUpstream>> {
  await ensureBuiltinTools(t);
  const rows = await t.db.$queryRaw<Row[]>`
    SELECT tl."id", tl."name", tl."kind", tl."description", tl."inputSchema", tl."annotations", tl."upstreamId", tl."upstreamToolName",
           up."url" AS "upUrl", up."headersSecretId" AS "upHeadersSecretId", up."updatedAt" AS "upUpdatedAt", up."authMode" AS "upAuthMode"
      FROM "Tool" tl
      LEFT JOIN "Upstream" up ON up."id" = tl."upstreamId" AND up."tenantId" = ${t.id}
     WHERE tl."tenantId" = ${t.id} AND tl."approved" AND NOT tl."held"
       AND EXISTS (SELECT 1 FROM "User" u WHERE u."tenantId" = ${t.id} AND u."id" = ${userId} AND u."active")
       AND (tl."everyone" OR EXISTS (
             SELECT 1 FROM "ToolGrant" g
               JOIN "GroupMembership" m ON m."groupId" = g."groupId" AND m."tenantId" = ${t.id}
              WHERE g."tenantId" = ${t.id} AND g."toolId" = tl."id" AND m."userId" = ${userId})
         OR EXISTS (
             -- IdP-group grants (idp-group-grants.ts): a group of the user's stands for the IdP group by external id,
             -- or, having none, by the IdP group's name.
             SELECT 1 FROM "IdpGroupGrant" ig
               JOIN "Group" gr ON gr."tenantId" = ${t.id}
                AND (gr."externalId" = ig."idpGroupId" OR (gr."externalId" IS NULL AND gr."displayNameKey" = ig."idpGroupNameKey"))
               JOIN "GroupMembership" m ON m."groupId" = gr."id" AND m."tenantId" = ${t.id}
              WHERE ig."tenantId" = ${t.id} AND ig."toolId" = tl."id" AND m."userId" = ${userId}))
     ORDER BY tl."name" ASC`;
  const tools = new Map<string, CallableToolWithUpstream>();
  for (const row of rows) {
    const upstream = row.upstreamId && row.upUrl && row.upUpdatedAt
      ? { id: row.upstreamId, url: row.upUrl, headersSecretId: row.upHeadersSecretId, updatedAt: new Date(row.upUpdatedAt), authMode: row.upAuthMode ?? 'static' }
      : null;
    tools.set(row.name, { ...toCallableTool(row), upstream });
  }
  return tools;
}

const caches = new WeakMap<object, CallableToolsCache>();

/** The node's one cache for these services (it subscribes to their bus once). */
export function callableToolsCache(s: Pick<Services, 'bus' | 'clock'>): CallableToolsCache {
  let cache = caches.get(s.bus);
  if (!cache) {
    cache = new CallableToolsCache(s);
    caches.set(s.bus, cache);
  }
  return cache;
}
