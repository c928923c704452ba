import type Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { ProviderCache } from '../../src/oauth/provider-cache.js';
import type { BusSignal, EventBus } from '../../src/revocation/event-bus.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';

function fakeBus() {
  const listeners: ((e: BusSignal) => void)[] = [];
  const state = { trusted: true };
  return {
    bus: { subscribe: (l: (e: BusSignal) => void) => (listeners.push(l), () => undefined), now: () => 0, trusts: () => state.trusted } as unknown as EventBus,
    emit: (e: BusSignal) => listeners.forEach((l) => l(e)),
    state,
  };
}
const tenant = (id: string, settings: Record<string, unknown> = {}) => ({ id, slug: id, name: id, settings }) as unknown as TenantCtx;

describe('provider cache', () => {
  it('builds once per tenant, bounds its size (least recently used leaves), rebuilds on change and on tenant.changed', async () => {
    const built: string[] = [];
    const { bus, emit } = fakeBus();
    const cache = new ProviderCache(async (t) => (built.push(t.id), { id: t.id } as unknown as Provider), bus, 2);
    await cache.get(tenant('a'));
    await cache.get(tenant('a'));
    expect(built).toEqual(['a']);
    await cache.get(tenant('b'));
    await cache.get(tenant('a')); // a is now the most recently used
    await cache.get(tenant('c')); // evicts b
    await cache.get(tenant('a'));
    expect(built).toEqual(['a', 'b', 'c']);
    await cache.get(tenant('b'));
    expect(built).toEqual(['a', 'b', 'c', 'b']);
    await cache.get(tenant('b', { dynamicClientRegistration: false }));
    expect(built.at(-1)).toBe('b');
    expect(built).toHaveLength(5);
    emit({ type: 'tenant.changed', tenantId: 'b' });
    await cache.get(tenant('b', { dynamicClientRegistration: false }));
    expect(built).toHaveLength(6);
  });

  it('rebuilds every tenant after a gap in the bus, and does not serve an entry the bus no longer vouches for', async () => {
    const built: string[] = [];
    const { bus, emit, state } = fakeBus();
    const cache = new ProviderCache(async (t) => (built.push(t.id), { id: t.id } as unknown as Provider), bus);
    await cache.get(tenant('a'));
    await cache.get(tenant('b'));
    emit({ type: 'bus.resumed' });
    await cache.get(tenant('a'));
    await cache.get(tenant('b'));
    expect(built).toEqual(['a', 'b', 'a', 'b']);
    state.trusted = false;
    await cache.get(tenant('a'));
    expect(built).toEqual(['a', 'b', 'a', 'b', 'a']);
  });

  it('forgets a failed build so the next request tries again', async () => {
    let fail = true;
    const { bus } = fakeBus();
    const cache = new ProviderCache(async () => {
      if (fail) throw new Error('vault unavailable');
      return {} as Provider;
    }, bus);
    await expect(cache.get(tenant('a'))).rejects.toThrow('vault unavailable');
    fail = false;
    await expect(cache.get(tenant('a'))).resolves.toBeDefined();
  });
});
