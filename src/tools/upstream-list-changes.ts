import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { refreshUpstream } from './manage-upstreams.js';
import type { ListKind, UpstreamRef } from './upstream-pool.js';

/** Default for both bounds: one tools refresh per upstream (cluster-wide), one content announcement per key (node). */
export const LIST_CHANGED_INTERVAL_MS = 30_000;

/** Content keys remembered at most before the expired ones are forgotten. */
const MAX_KEYS = 10_000;

/**
 * Upstreams' `notifications/{tools,prompts,resources}/list_changed` (MCP 2025-11-25 "Tools"/"Prompts"/"Resources",
 * list changed notification), which arrive on a pooled upstream session's GET stream:
 *
 * - *tools*: the gateway re-lists the upstream exactly as the admin's `upstream refresh` does (new tools join
 *   unapproved, changed approved tools are held — the tool-poisoning guard — removed ones go), which publishes
 *   `tools.changed`, and every client's GET stream then hears `notifications/tools/list_changed`
 *   (src/mcp/watch-stream.ts). A client is never told of a tool list change the gateway has not approved: the list
 *   it re-reads is the gateway's. At most one refresh per upstream per interval across the cluster: a conditional
 *   UPDATE of `Upstream.lastRefreshedAt` elects the node that refreshes; an announcement that loses is retried once at
 *   the end of the window on its node (so the last change of a burst is never lost).
 * - *prompts, resources*: forwarded as a bus event to the GET streams of the users who may see that upstream's content
 *   (all of them for a static upstream's shared session, only the session's user for a per-user one); at most one per
 *   (upstream, user, kind) per interval per node, the same trailing retry.
 */
export class UpstreamListChanges {
  intervalMs = LIST_CHANGED_INTERVAL_MS;
  /** Last content announcement relayed per key on this node (clock ms). */
  readonly #lastRelayed = new Map<string, number>();
  /** One pending retry per key at the end of its window. */
  readonly #retries = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();

  constructor(private readonly s: Services) {}

  /** The pool's hook (src/tools/upstream-pool.ts `listChanged`). */
  announced(t: TenantCtx, up: UpstreamRef, userId: string | undefined, kind: ListKind): void {
    this.#track(kind === 'tools' ? this.#tools(t, up, userId) : this.#content(t, up, userId ?? null, kind));
  }

  /** Resolves when the work started so far has finished (tests; graceful stop). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Pending retries are dropped (shutdown). */
  stop(): void {
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
  }

  #track(work: Promise<void>): void {
    const p = work.catch((err: unknown) => this.s.logger.warn({ err: String(err).slice(0, 200) }, 'upstream list change not handled'));
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
  }

  /** `retried`: the end-of-window retry, which gives up when another node refreshed since (that covered it). */
  async #tools(t: TenantCtx, up: UpstreamRef, userId: string | undefined, retried = false): Promise<void> {
    const now = this.s.clock.now();
    const claimed = await t.db.upstream.updateMany({
      where: { id: up.id, OR: [{ lastRefreshedAt: null }, { lastRefreshedAt: { lte: new Date(now.getTime() - this.intervalMs) } }] },
      data: { lastRefreshedAt: now },
    });
    if (claimed.count === 0) return retried ? undefined : this.#retryLater(`tools|${t.id}|${up.id}`, this.intervalMs, () => this.#tools(t, up, userId, true));
    const row = await t.db.upstream.findFirst({ where: { id: up.id }, select: { name: true } });
    if (!row) return; // removed meanwhile
    // A per-user upstream is listed with the token of the user whose session announced it (`upstream refresh --user`).
    const report = await refreshUpstream(this.s, t, row.name, userId);
    await this.s.audit.record(t, {
      actor: { kind: 'system' },
      action: 'upstream.refresh',
      target: { kind: 'upstream', id: up.id },
      outcome: 'success',
      detail: { upstream: row.name, trigger: 'list_changed', added: report.added, removed: report.removed, held: report.held.map((h) => h.tool) },
    });
  }

  async #content(t: TenantCtx, up: UpstreamRef, userId: string | null, kind: 'prompts' | 'resources'): Promise<void> {
    const key = `${kind}|${t.id}|${up.id}|${userId ?? ''}`;
    const now = this.s.clock.now().getTime();
    const last = this.#lastRelayed.get(key);
    if (last !== undefined && now - last < this.intervalMs) return this.#retryLater(key, last + this.intervalMs - now, () => this.#content(t, up, userId, kind));
    if (this.#lastRelayed.size >= MAX_KEYS) for (const [k, at] of this.#lastRelayed) if (now - at >= this.intervalMs) this.#lastRelayed.delete(k);
    this.#lastRelayed.set(key, now);
    await this.s.bus.publish({ type: 'mcp.content.list-changed', tenantId: t.id, upstreamId: up.id, userId, kind });
  }

  #retryLater(key: string, delayMs: number, run: () => Promise<void>): void {
    if (this.#retries.has(key)) return;
    const timer = setTimeout(() => {
      this.#retries.delete(key);
      this.#track(run());
    }, Math.max(0, delayMs));
    timer.unref();
    this.#retries.set(key, timer);
  }
}

const registries = new WeakMap<object, UpstreamListChanges>();

/** The node's one handler for these services (the composition root hooks it into their upstream pool). */
export function upstreamListChanges(s: Services): UpstreamListChanges {
  let r = registries.get(s.upstreams);
  if (!r) {
    r = new UpstreamListChanges(s);
    registries.set(s.upstreams, r);
  }
  return r;
}
