import type Provider from 'oidc-provider';
import type { EventBus } from '../revocation/event-bus.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

interface Entry {
  fingerprint: string;
  loadedAt: number;
  provider: Promise<Provider>;
}

/**
 * One oidc-provider instance per tenant, built on first use and kept in a bounded LRU (a node serving thousands of
 * tenants keeps only the busy ones). An entry is rebuilt when the tenant's name or settings change, and dropped on
 * the bus's 'tenant.changed' (key rotation, DCR switched off on another node…).
 */
export class ProviderCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly build: (t: TenantCtx) => Promise<Provider>,
    private readonly bus: EventBus,
    private readonly max = 200,
  ) {
    bus.subscribe((event) => {
      if (event.type === 'tenant.changed') this.#entries.delete(event.tenantId);
      else if (event.type === 'bus.resumed') this.#entries.clear();
    });
  }

  get(t: TenantCtx): Promise<Provider> {
    const fingerprint = JSON.stringify([t.slug, t.name, t.settings]);
    const hit = this.#entries.get(t.id);
    if (hit && hit.fingerprint === fingerprint && this.bus.trusts(hit.loadedAt)) {
      // Map iteration order is insertion order: re-inserting marks the entry most recently used.
      this.#entries.delete(t.id);
      this.#entries.set(t.id, hit);
      return hit.provider;
    }
    const provider = this.build(t);
    const entry = { fingerprint, provider, loadedAt: this.bus.now() };
    this.#entries.set(t.id, entry);
    provider.catch(() => {
      if (this.#entries.get(t.id) === entry) this.#entries.delete(t.id);
    });
    while (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
    return provider;
  }

  invalidate(tenantId: string): void {
    this.#entries.delete(tenantId);
  }
}
