import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import type { BusEvent } from '../../src/revocation/event-bus.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { UpstreamListChanges } from '../../src/tools/upstream-list-changes.js';
import type { UpstreamRef } from '../../src/tools/upstream-pool.js';

const up: UpstreamRef = { id: 'ups_1', url: 'http://127.0.0.1:1/mcp', headersSecretId: null, updatedAt: new Date(0) };

/** The handler over a recording bus and a stand-in for the Upstream row's conditional claim. */
function setUp() {
  const clock = new ManualClock('2026-12-05T12:00:00Z');
  const published: BusEvent[] = [];
  const s = { clock, bus: { publish: async (e: BusEvent) => void published.push(e) }, logger: { warn: () => undefined } } as unknown as Services;
  let lastRefreshedAt = new Date(0);
  const claims: boolean[] = [];
  const t = {
    id: 'ten_1',
    db: {
      upstream: {
        updateMany: async ({ where, data }: { where: { OR: [unknown, { lastRefreshedAt: { lte: Date } }] }; data: { lastRefreshedAt: Date } }) => {
          const won = lastRefreshedAt <= where.OR[1].lastRefreshedAt.lte;
          claims.push(won);
          if (won) lastRefreshedAt = data.lastRefreshedAt;
          return { count: won ? 1 : 0 };
        },
        // The upstream was removed meanwhile: a won claim stops before the re-listing itself.
        findFirst: async () => null,
      },
    },
  } as unknown as TenantCtx;
  const changes = new UpstreamListChanges(s);
  changes.intervalMs = 30_000;
  return { clock, published, claims, t, changes, setRefreshed: (d: Date) => (lastRefreshedAt = d) };
}

describe('UpstreamListChanges debouncing', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('prompts/resources: one announcement per (upstream, user, kind) per interval, the burst served once at its end', async () => {
    const { clock, published, t, changes } = setUp();
    for (let i = 0; i < 5; i++) changes.announced(t, up, undefined, 'prompts');
    changes.announced(t, up, 'usr_a', 'prompts'); // another key: its own window
    changes.announced(t, up, undefined, 'resources');
    await changes.idle();
    expect(published.map((e) => e.type === 'mcp.content.list-changed' && `${e.kind}:${e.userId}`)).toEqual(['prompts:null', 'prompts:usr_a', 'resources:null']);
    clock.advance(30_000);
    await vi.advanceTimersByTimeAsync(30_000);
    await changes.idle();
    // The four announcements inside the window became one more, at its end; nothing else is pending.
    expect(published).toHaveLength(4);
    expect(published[3]).toMatchObject({ kind: 'prompts', userId: null });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tools: a lost claim is retried once at the end of the window, and given up when another refresh happened since', async () => {
    const { clock, claims, t, changes, setRefreshed } = setUp();
    setRefreshed(clock.now()); // just refreshed (e.g. by another node)
    changes.announced(t, up, undefined, 'tools');
    changes.announced(t, up, undefined, 'tools');
    await changes.idle();
    expect(claims).toEqual([false, false]);
    expect(vi.getTimerCount()).toBe(1); // one retry for the burst
    // Another node refreshes again just before the retry: the retry loses and is not rescheduled.
    clock.advance(29_000);
    setRefreshed(clock.now());
    clock.advance(1_000);
    await vi.advanceTimersByTimeAsync(30_000);
    await changes.idle();
    expect(claims).toEqual([false, false, false]);
    expect(vi.getTimerCount()).toBe(0);
    // Next announcement after a full interval wins at once.
    clock.advance(30_000);
    changes.announced(t, up, undefined, 'tools');
    await changes.idle();
    expect(claims.at(-1)).toBe(true);
  });

  it('stop() drops pending retries', async () => {
    const { t, changes, setRefreshed, clock } = setUp();
    setRefreshed(clock.now());
    changes.announced(t, up, undefined, 'tools');
    await changes.idle();
    expect(vi.getTimerCount()).toBe(1);
    changes.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
