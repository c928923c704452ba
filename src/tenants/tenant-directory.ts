import type { Db } from '../db/open-database.js';
import type { EventBus } from '../revocation/event-bus.js';
import { keepSealedSigningKeys } from '../oauth/signing-keys.js';
import { ReadsAhead } from '../lib/reads-ahead.js';
import { readActiveTenant, type ActiveTenantRead } from './find-tenant.js';
import type { TenantCtx } from './tenant-context.js';

const MAX_ENTRIES = 10_000;

/**
 * Resolves `/t/:slug` without a database round trip on every request: active tenants are cached for `ttlMs`, unknown
 * or disabled slugs for `negativeTtlMs`, and a `tenant.changed` event (create, disable, enable, settings — from
 * this node or, through LISTEN/NOTIFY, another) drops the tenant's entry, so a disabled tenant stops answering at once.
 * The TTLs are only a safety net for a missed notification; while the bus is down, entries are trusted only within
 * its bound (`EventBus.trusts`).
 *
 * The read brings the tenant's sealed signing keys along and leaves them with the context (decision 0043), so the
 * first token check after a change needs no round trip of its own. A read that overlapped a `tenant.changed` or
 * `bus.resumed` may predate the change: its context serves the request that asked (as it would have a moment
 * earlier) but is neither cached nor given the keys, so nothing derived from it outlives the request.
 *
 * Refresh ahead (issue 17 §2): a `tenant.changed` drops that tenant's entry and every negative one (the event may have
 * created or enabled the tenant of a slug cached as unknown); other tenants' entries stay. If this node held the
 * tenant, it reads it again at once, in the background, after every subscriber has obeyed the event: the read starts
 * after the change, like any request's, so it sees it — and the next request finds the tenant, its keys and the
 * settings already parsed instead of waiting for them. Only a tenant this node served within its entry's lifetime is
 * read again (`bus.resumed`, which drops everything, reads nothing ahead: it would be every tenant at once).
 */
export class TenantDirectory {
  readonly #bySlug = new Map<string, { ctx: TenantCtx | null; until: number; loadedAt: number }>();
  /** Counts the events that clear the cache: a read that saw it change may predate one of them. */
  #generation = 0;
  readonly #ahead = new ReadsAhead();
  /** Off only in tests of the path a request takes when the tenant is not cached. */
  refreshAhead = true;

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly ttlMs = 10_000,
    private readonly negativeTtlMs = 2_000,
  ) {
    bus.subscribe((e) => {
      if (e.type === 'bus.resumed') {
        this.#generation++;
        this.#bySlug.clear();
      } else if (e.type === 'tenant.changed') {
        this.#generation++;
        const now = performance.now();
        const held: string[] = [];
        for (const [slug, entry] of this.#bySlug) {
          if (entry.ctx !== null && entry.ctx.id !== e.tenantId) continue;
          this.#bySlug.delete(slug);
          if (entry.ctx && entry.until > now) held.push(slug);
        }
        // A failed read caches nothing: the next request reads, as without the read ahead.
        if (this.refreshAhead) for (const slug of held) this.#ahead.schedule(slug, () => this.findActive(slug));
      }
    });
  }

  /** Resolves once every read ahead started so far has finished (tests; a shutdown need not wait for them). */
  settled(): Promise<void> {
    return this.#ahead.settled();
  }

  async findActive(slug: string): Promise<TenantCtx | null> {
    return (await this.findActiveWith(slug, async (db, s) => ({ tenant: await readActiveTenant(db, s), along: undefined }))).ctx;
  }

  /**
   * findActive, with the read (on a miss) done by `read`, which may bring more than the tenant along in the same
   * statement (the MCP endpoint's cold read, src/mcp/cold-read.ts). `along` is what it brought (undefined on a hit),
   * `readAt` the bus time its read started; what it brought is the caller's to check and discard.
   */
  async findActiveWith<X>(
    slug: string,
    read: (db: Db, slug: string) => Promise<{ tenant: ActiveTenantRead | null; along: X }>,
  ): Promise<{ ctx: TenantCtx | null; along?: X; readAt?: number }> {
    // Monotonic time: a cache lifetime, unrelated to the business clock that tests move around.
    const now = performance.now();
    const hit = this.#bySlug.get(slug);
    if (hit && hit.until > now && this.bus.trusts(hit.loadedAt)) return { ctx: hit.ctx };
    const loadedAt = this.bus.now();
    const generation = this.#generation;
    const { tenant, along } = await read(this.db, slug);
    const ctx = tenant?.t ?? null;
    const answer = { ctx, along, readAt: loadedAt };
    if (generation !== this.#generation) return answer;
    if (tenant?.sealedSigningKeys) keepSealedSigningKeys(tenant.t, { sealed: tenant.sealedSigningKeys, readAt: loadedAt });
    if (this.#bySlug.size >= MAX_ENTRIES) this.#bySlug.clear();
    this.#bySlug.set(slug, { ctx, until: now + (ctx ? this.ttlMs : this.negativeTtlMs), loadedAt });
    return answer;
  }
}
