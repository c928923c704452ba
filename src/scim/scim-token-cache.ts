import type { Clock } from '../lib/clock.js';
import type { EventBus } from '../revocation/event-bus.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { verifyScimToken } from './scim-tokens.js';

const MAX_ENTRIES = 10_000;

/**
 * Remembers SCIM tokens that verified, so a provisioning burst (Entra sends thousands of requests per cycle) costs
 * no token query per request. Revocation stays immediate: `scim-token revoke` publishes `scim-token.revoked`, which
 * drops the entry on every node (LISTEN/NOTIFY); `ttlMs` bounds a missed notification. Failed tokens are never
 * cached. Each entry is re-verified after `ttlMs`, which also keeps `lastUsedAt` current to about a minute.
 */
export class ScimTokenCache {
  readonly #byHash = new Map<string, { tenantId: string; id: string; until: number; loadedAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly bus: EventBus,
    private readonly ttlMs = 30_000,
  ) {
    bus.subscribe((e) => {
      if (e.type === 'bus.resumed') this.#byHash.clear();
      if (e.type !== 'scim-token.revoked') return;
      for (const [hash, entry] of this.#byHash) if (entry.id === e.tokenId) this.#byHash.delete(hash);
    });
  }

  async verify(t: TenantCtx, presented: string, hash: string): Promise<{ id: string } | null> {
    const now = performance.now();
    const hit = this.#byHash.get(hash);
    // A token of another tenant never matches: entries are checked against the tenant they were verified for.
    if (hit && hit.until > now && hit.tenantId === t.id && this.bus.trusts(hit.loadedAt)) return { id: hit.id };
    const loadedAt = this.bus.now();
    const row = await verifyScimToken(t, presented, this.clock);
    if (!row) {
      this.#byHash.delete(hash);
      return null;
    }
    if (this.#byHash.size >= MAX_ENTRIES) this.#byHash.clear();
    this.#byHash.set(hash, { tenantId: t.id, id: row.id, until: now + this.ttlMs, loadedAt });
    return { id: row.id };
  }
}
