import { hotQuery, statement } from '../db/hot-sql.js';
import { ReadsAhead } from '../lib/reads-ahead.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { builtinToolsEnsured, ensureBuiltinTools } from './ensure-builtin-tools.js';
import { toCallableTool, type CallableTool, type ToolRow } from './list-callable-tools.js';
import type { UpstreamRef } from './upstream-pool.js';

export type CallableToolWithUpstream = CallableTool & { upstream: UpstreamRef | null };

/**
 * The tools one user may call, sorted by name: one object shared by every user of the tenant who may call exactly
 * these (so 10,000 users hold a few hundred of them, not 10,000 copies of 200 tool definitions), and a key for
 * whatever is derived from it once (the serialised tools/list answer, build-mcp-server.ts). Never mutated.
 */
export interface ToolSet {
  readonly list: readonly CallableToolWithUpstream[];
  readonly byName: ReadonlyMap<string, CallableToolWithUpstream>;
}

/** An approved tool with its upstream, as approvedToolsSql reads it. */
export interface ApprovedToolRow extends ToolRow {
  everyone: boolean;
  upUrl: string | null;
  upHeadersSecretId: string | null;
  upUpdatedAt: Date | string | null;
  upAuthMode: string | null;
}
type Row = ApprovedToolRow;

const utcDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(/[Zz]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`));

/** The events after which something here is dropped: a cold read started before one of them is not primed. */
const DROPPING_EVENTS: ReadonlySet<string> = new Set(['bus.resumed', 'tools.changed', 'tenant.changed', 'user.changed', 'user.revoked', 'members.changed']);

interface Timed {
  tenantId: string;
  loadedAt: number;
  /** Monotonic (`EventBus.now`), for the bus's trust bound; `loadedAt` is the business clock for the backstop. */
  busLoadedAt: number;
}

interface Entry extends Timed {
  userId: string;
  tools: Promise<ToolSet>;
}

/** A tenant's approved, not held tools by id in name order, and which of them are approved for everyone. */
export interface ApprovedTools {
  byId: ReadonlyMap<string, CallableToolWithUpstream>;
  everyone: ReadonlySet<string>;
}

/** A tenant's approved tools, and the tool sets made from them (interned by their ids). */
interface Catalogue extends Timed {
  /** The context it was read for (what a read ahead reads it again with). */
  t: TenantCtx;
  tools: Promise<ApprovedTools>;
  sets: Map<string, ToolSet>;
  /** A catalogue read ahead: the tool sets it is to make (a later event's read ahead takes them over). */
  setsAhead?: readonly string[];
}

const MAX_ENTRIES = 10_000;
const MAX_CATALOGUES = 1_000;
/** Tool sets made again ahead per catalogue read ahead: the most recently made ones (each one turn of the event loop). */
const MAX_SETS_AHEAD = 100;
/**
 * A backstop only (decision 0040): every change that matters is announced on the bus and drops the entry at once, and a
 * lost event is covered by the bus's own trust bound (`EventBus.trusts`) and `bus.resumed`. What is left for it is a
 * row edited by hand without an event; 10 minutes instead of 60 s made a user's decision survive between their calls
 * (a miss is a database query; with 10,000 users a 60 s age was most of the misses).
 */
export const MAX_AGE_MS = 10 * 60_000;

/**
 * The tools each user may call now — user active, tool approved, for everyone, for a group the user is in or for an
 * IdP group one of the user's groups stands for (idp-group-grants.ts) — as the
 * MCP endpoint decides them for tools/list and tools/call. Cached per (tenant, user) on this node, because a
 * permission query per call was the largest database cost of the hot path. The tools — their definitions, whether
 * they are approved, held, for everyone — come from a per-tenant catalogue of approved tools, loaded once for all its
 * users (a tenant with 200 approved tools and large schemas made each user's load, and each user's entry, carry all
 * of them). What is the user's own is read per user by one query: whether they are active, and the tools granted to
 * their groups (grantedToolIdsSql); the decision is made from both in memory ({@link decide}, decision 0058).
 *
 * The cache obeys the event bus exactly like the token cache: `tools.changed` (approve, revoke, upstream add /
 * refresh / remove), `tenant.changed` drop the tenant's entries and catalogue; `user.changed` (SCIM user or group membership
 * change, SSO group sync), `members.changed` (one SCIM group change set) and `user.revoked` drop the users'. Publishers commit first and publish after, and an
 * entry still loading is dropped too, so the first request after an event reads the database again: revocation
 * takes effect on the very next request on the node that made the change, and on the others when NOTIFY arrives.
 * Any new code path that changes approval, grants, membership or a user's `active` flag must publish one of these.
 *
 * Refresh ahead (issue 17 §2): after `tools.changed` or `tenant.changed`, a tenant whose catalogue this node held has
 * it read again at once, in the background, so the next user's request does not wait for it (after an upstream's 200
 * tools changed, that read is most of the request). The read starts after the event, so it sees the change; an event
 * during it drops it like any entry still loading. The tool sets its users had are made again from it, with what the
 * MCP endpoint derives from each (deriveAhead). Users' decisions are not read ahead: they are per user.
 */
export class CallableToolsCache {
  readonly #entries = new Map<string, Entry>();
  readonly #catalogues = new Map<string, Catalogue>();
  /** `EventBus.now()` of the last event that dropped anything here: a read started before it is not primed. */
  #droppedAt = -Infinity;
  readonly #ahead = new ReadsAhead();
  /** Off only in tests of the path a request takes when the catalogue is not cached. */
  refreshAhead = true;
  /**
   * What is made once per tool set (the MCP endpoint's serialised tools/list answer, build-mcp-server.ts), made for the
   * sets in use when their catalogue is read ahead, so the first request of each set after the event finds it made.
   */
  deriveAhead?: (set: ToolSet) => unknown;

  constructor(private readonly s: Pick<Services, 'bus' | 'clock'>) {
    s.bus.subscribe((e) => {
      if (DROPPING_EVENTS.has(e.type)) this.#droppedAt = s.bus.now();
      if (e.type === 'bus.resumed') {
        this.#entries.clear();
        this.#catalogues.clear();
      } else if (e.type === 'tools.changed' || e.type === 'tenant.changed') {
        const held = this.#catalogues.get(e.tenantId);
        this.#catalogues.delete(e.tenantId);
        this.#drop((x) => x.tenantId === e.tenantId);
        if (held && this.refreshAhead && this.#fresh(held, s.clock.now().getTime())) {
          this.#readAhead(held.t, [...new Set([...(held.setsAhead ?? []), ...held.sets.keys()])].slice(-MAX_SETS_AHEAD));
        }
      } else if (e.type === 'user.changed' || e.type === 'user.revoked') this.#drop((x) => x.tenantId === e.tenantId && x.userId === e.userId);
      else if (e.type === 'members.changed') this.#drop((x) => x.tenantId === e.tenantId && (e.userIds === null || e.userIds.includes(x.userId)));
    });
  }

  /** The user's callable tools, sorted by name. */
  async list(t: TenantCtx, userId: string): Promise<CallableToolWithUpstream[]> {
    return [...(await this.#load(t, userId)).list];
  }

  /** The user's callable tools as a shared, immutable set (the same object for every user who may call the same). */
  toolSet(t: TenantCtx, userId: string): Promise<ToolSet> {
    return this.#load(t, userId);
  }

  /** One tool by name if this user may call it now, else null (unknown, unapproved, not granted, user inactive). */
  async find(t: TenantCtx, userId: string, name: string): Promise<CallableToolWithUpstream | null> {
    return (await this.#load(t, userId)).byName.get(name) ?? null;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether the tenant's catalogue is cached and fresh (the cold read then leaves it out). */
  hasCatalogue(t: TenantCtx): boolean {
    return this.#fresh(this.#catalogues.get(t.id), this.s.clock.now().getTime());
  }

  /**
   * Installs a user's tool ids (and the tenant's catalogue, when it came along) read by the MCP request's cold read
   * (src/mcp/cold-read.ts) — called only once the token naming that user has been verified. Nothing is installed when
   * an event this cache obeys came since the read started (`readAt`, `EventBus.now()`: the read may predate it), when
   * the tenant's built-in tools are not known to exist yet, or when the catalogue is neither given nor cached.
   */
  prime(t: TenantCtx, userId: string, read: { readAt: number; granted: readonly string[]; catalogue: Row[] | null }): void {
    if (read.readAt <= this.#droppedAt || !builtinToolsEnsured(t.id)) return;
    const now = this.s.clock.now().getTime();
    const key = `${t.id}\u0000${userId}`;
    if (this.#fresh(this.#entries.get(key), now)) return;
    let catalogue = this.#catalogues.get(t.id);
    if (!this.#fresh(catalogue, now)) {
      if (!read.catalogue) return;
      if (this.#catalogues.size >= MAX_CATALOGUES) this.#catalogues.delete(this.#catalogues.keys().next().value!);
      catalogue = { t, tenantId: t.id, loadedAt: now, busLoadedAt: read.readAt, tools: Promise.resolve(toolsOf(read.catalogue)), sets: new Map() };
      this.#catalogues.set(t.id, catalogue);
    }
    const cat = catalogue!;
    const tools = cat.tools.then((approved) => intern(cat, approved, decide(approved, read.granted)));
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { tenantId: t.id, userId, loadedAt: now, busLoadedAt: read.readAt, tools });
    tools.catch(() => {
      if (this.#entries.get(key)?.tools === tools) this.#entries.delete(key);
    });
  }

  /** Resolves once every read ahead started so far has finished (tests). */
  settled(): Promise<void> {
    return this.#ahead.settled();
  }

  /**
   * The tenant's catalogue, read again unless a request already did (a failed read is not cached: #catalogue); then the
   * tool sets its users had (`setKeys`, their tool ids) made again from it, each with {@link deriveAhead}, one per turn
   * of the event loop, so that a 200-tool answer serialised here does not hold up requests.
   */
  #readAhead(t: TenantCtx, setKeys: readonly string[]): void {
    this.#ahead.schedule(t.id, async () => {
      const now = this.s.clock.now().getTime();
      if (this.#fresh(this.#catalogues.get(t.id), now)) return;
      const catalogue = this.#catalogue(t, now);
      catalogue.setsAhead = setKeys;
      const tools = await catalogue.tools;
      for (const key of setKeys) {
        if (this.#catalogues.get(t.id) !== catalogue) return; // dropped by a later event: its read ahead does this
        this.deriveAhead?.(intern(catalogue, tools, key === '' ? [] : key.split(',')));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    });
  }

  #drop(match: (e: Entry) => boolean): void {
    for (const [key, entry] of this.#entries) if (match(entry)) this.#entries.delete(key);
  }

  #fresh(hit: Timed | undefined, now: number): boolean {
    return hit !== undefined && now - hit.loadedAt < MAX_AGE_MS && this.s.bus.trusts(hit.busLoadedAt);
  }

  #load(t: TenantCtx, userId: string): Promise<ToolSet> {
    const key = `${t.id}\u0000${userId}`;
    const now = this.s.clock.now().getTime();
    const hit = this.#entries.get(key);
    if (hit && this.#fresh(hit, now)) return hit.tools;
    if (hit) this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    const entry: Entry = { tenantId: t.id, userId, loadedAt: now, busLoadedAt: this.s.bus.now(), tools: this.#resolve(t, userId, now) };
    this.#entries.set(key, entry);
    // A failed load must not stay cached.
    entry.tools.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry.tools;
  }

  async #resolve(t: TenantCtx, userId: string, now: number): Promise<ToolSet> {
    await ensureBuiltinTools(t);
    const catalogue = this.#catalogue(t, now);
    // Both round trips at once. A tool approved or revoked between them is decided by the catalogue until the
    // tools.changed that follows drops this entry with the catalogue (publishers commit first, then publish).
    const [tools, granted] = await Promise.all([catalogue.tools, queryGrantedToolIds(t, userId)]);
    return intern(catalogue, tools, granted === null ? [] : decide(tools, granted));
  }

  #catalogue(t: TenantCtx, now: number): Catalogue {
    const hit = this.#catalogues.get(t.id);
    if (hit && this.#fresh(hit, now)) return hit;
    if (hit) this.#catalogues.delete(t.id);
    if (this.#catalogues.size >= MAX_CATALOGUES) this.#catalogues.delete(this.#catalogues.keys().next().value!);
    const catalogue: Catalogue = { t, tenantId: t.id, loadedAt: now, busLoadedAt: this.s.bus.now(), tools: queryApprovedTools(t), sets: new Map() };
    this.#catalogues.set(t.id, catalogue);
    catalogue.tools.catch(() => {
      if (this.#catalogues.get(t.id) === catalogue) this.#catalogues.delete(t.id);
    });
    return catalogue;
  }
}

/**
 * The permission rule, for an active user: every tool of the catalogue (approved, not held) that is approved for
 * everyone or granted to one of the user's groups, in the catalogue's order (by name). `granted` may name tools the
 * catalogue does not hold (not approved, held, or of no concern): they are not callable.
 */
export function decide(tools: ApprovedTools, granted: readonly string[]): string[] {
  const mine = new Set(granted);
  const ids: string[] = [];
  for (const id of tools.byId.keys()) if (tools.everyone.has(id) || mine.has(id)) ids.push(id);
  return ids;
}

/** The tool set of these ids (those still in the catalogue), shared with every user who may call the same. */
function intern(catalogue: Catalogue, tools: ApprovedTools, ids: readonly string[]): ToolSet {
  const known = ids.filter((id) => tools.byId.has(id));
  const setKey = known.join(',');
  const shared = catalogue.sets.get(setKey);
  if (shared) return shared;
  const list = known.map((id) => tools.byId.get(id)!);
  const set: ToolSet = { list, byName: new Map(list.map((tool) => [tool.name, tool])) };
  if (catalogue.sets.size < MAX_ENTRIES) catalogue.sets.set(setKey, set);
  return set;
}

/**
 * What the decision needs of one user, in one SQL round trip: the ids of the tools granted to a group the user is in,
 * directly (ToolGrant) or through an IdP group one of the user's groups stands for (idp-group-grants.ts: by external
 * id, or, for a group without one, by the IdP group's name) — one row per grant, unordered, possibly repeated. Whether
 * a tool is approved, held or for everyone is the catalogue's (decide): the statement reads only the narrow grant
 * rows of the user's groups, by index, never the tenant's wide Tool rows (issue 17 §2: scanning and sorting 200 of
 * them was most of a user's first request in PostgreSQL). Raw SQL bypasses the tenant-scoped client, so every table is
 * bound to the tenant explicitly (test/mcp/mcp-tools.test.ts has the cross-tenant case). `tenant` and `user` are SQL
 * expressions: parameters here, the tenant row's id and a parameter in the MCP request's cold read (cold-read.ts).
 */
export function grantedToolIdsSql(tenant: string, user: string): string {
  return `WITH mine AS (SELECT m."groupId" FROM "GroupMembership" m WHERE m."tenantId" = ${tenant} AND m."userId" = ${user})
   SELECT g."toolId" FROM mine JOIN "ToolGrant" g ON g."tenantId" = ${tenant} AND g."groupId" = mine."groupId"
   UNION ALL
   SELECT ig."toolId" FROM mine
     JOIN "Group" gr ON gr."tenantId" = ${tenant} AND gr."id" = mine."groupId"
     JOIN "IdpGroupGrant" ig ON ig."tenantId" = ${tenant} AND ig."idpGroupId" = gr."externalId"
   UNION ALL
   SELECT ig."toolId" FROM mine
     JOIN "Group" gr ON gr."tenantId" = ${tenant} AND gr."id" = mine."groupId" AND gr."externalId" IS NULL
     JOIN "IdpGroupGrant" ig ON ig."tenantId" = ${tenant} AND ig."idpGroupNameKey" = gr."displayNameKey"`;
}

/** The user's granted tool ids as one JSON array (`user` must be known to be active where this is used). */
export const grantedToolIdsJson = (tenant: string, user: string) =>
  `(SELECT COALESCE(json_agg(x."toolId"), '[]'::json) FROM (${grantedToolIdsSql(tenant, user)}) x)`;

/** Null for an unknown or inactive user (who may call nothing), else the tools granted to the user's groups. */
const GRANTED_TOOL_IDS = statement(
  'granted_tool_ids',
  `SELECT CASE WHEN u."active" THEN ${grantedToolIdsJson('$1', '$2')} END AS "granted"
     FROM "User" u WHERE u."tenantId" = $1 AND u."id" = $2`,
);

async function queryGrantedToolIds(t: TenantCtx, userId: string): Promise<string[] | null> {
  const [row] = await hotQuery<{ granted: string[] | null }>(t.db, GRANTED_TOOL_IDS, [t.id, userId]);
  return row?.granted ?? null;
}

/**
 * Every approved, not held tool of the tenant with its upstream: the definitions the users' decisions pick from.
 * `tenant` is the SQL expression of the tenant id (a parameter here, the tenant row's id in cold-read.ts).
 */
export function approvedToolsSql(tenant: string): string {
  return `SELECT tl."id", tl."name", tl."kind", tl."everyone", tl."description", tl."inputSchema", tl."annotations", tl."upstreamId", tl."upstreamToolName",
          up."url" AS "upUrl", up."headersSecretId" AS "upHeadersSecretId", up."updatedAt" AS "upUpdatedAt", up."authMode" AS "upAuthMode"
     FROM "Tool" tl
     LEFT JOIN "Upstream" up ON up."id" = tl."upstreamId" AND up."tenantId" = ${tenant}
    WHERE tl."tenantId" = ${tenant} AND tl."approved" AND NOT tl."held"`;
}

// In name order: the catalogue's order is the order of every tool set made from it (decide).
const APPROVED_TOOLS = statement('approved_tools', `${approvedToolsSql('$1')} ORDER BY tl."name"`);

async function queryApprovedTools(t: TenantCtx): Promise<ApprovedTools> {
  return toolsOf(await hotQuery<Row>(t.db, APPROVED_TOOLS, [t.id]));
}

/**
 * The catalogue from its rows, in their order (by name). `upUpdatedAt` is a Date from the statement itself, or the ISO
 * text PostgreSQL writes for a `timestamp` inside JSON (cold-read.ts), which is UTC without a zone (hot-sql.ts): read
 * as UTC.
 */
export function toolsOf(rows: readonly Row[]): ApprovedTools {
  const tools = new Map<string, CallableToolWithUpstream>();
  const everyone = new Set<string>();
  for (const row of rows) {
    if (row.everyone) everyone.add(row.id);
    const upstream = row.upstreamId && row.upUrl && row.upUpdatedAt
      ? { id: row.upstreamId, url: row.upUrl, headersSecretId: row.upHeadersSecretId, updatedAt: utcDate(row.upUpdatedAt), authMode: row.upAuthMode ?? 'static' }
      : null;
    tools.set(row.id, { ...toCallableTool(row), upstream });
  }
  return { byId: tools, everyone };
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
