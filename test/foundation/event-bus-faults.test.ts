import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Listening, RawConnection } from '../../src/db/open-database.js';
import { CACHE_TRUST_MS, EventBus, type BusSignal } from '../../src/revocation/event-bus.js';

/** A LISTEN connection the test can break, refuse and stall at will. */
function fakeRaw(inProcess = false) {
  const conns: { lost: (err: Error) => void; closed: boolean }[] = [];
  let refuse = false;
  let stallPing = false;
  let attempts = 0;
  const raw: RawConnection = {
    inProcess,
    query: async () => ({ rows: [] }),
    notify: async () => {},
    async listen(_channel, _onMessage, onLost): Promise<Listening> {
      attempts++;
      if (refuse) throw new Error('connection refused');
      const c = { lost: onLost ?? (() => {}), closed: false };
      conns.push(c);
      return {
        ping: () => (stallPing ? new Promise(() => {}) : Promise.resolve()),
        close: async () => void (c.closed = true),
      };
    },
  };
  return {
    raw,
    conns,
    kill: () => conns.at(-1)!.lost(new Error('terminating connection due to administrator command')),
    refuse: (v: boolean) => void (refuse = v),
    stall: (v: boolean) => void (stallPing = v),
    attempts: () => attempts,
  };
}

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  return { logger, lines };
}

describe('event bus under faults', () => {
  it('reconnects after the LISTEN connection dies, tells subscribers to drop everything, and logs both edges', async () => {
    const f = fakeRaw();
    const { logger, lines } = capture();
    const bus = new EventBus(f.raw, logger, { backoffMs: [1, 4], heartbeatMs: 60_000 });
    const heard: BusSignal[] = [];
    bus.subscribe((e) => heard.push(e));
    await bus.start();
    expect(bus.state).toBe('listening');

    f.refuse(true); // PostgreSQL is restarting: the first attempts fail, the bus keeps trying
    f.kill();
    expect(bus.state).toBe('down');
    expect(f.conns[0]!.closed).toBe(true);
    await vi.waitFor(() => expect(f.attempts()).toBeGreaterThanOrEqual(4));
    f.refuse(false);
    await vi.waitFor(() => expect(bus.state).toBe('listening'));
    expect(f.conns).toHaveLength(2);
    expect(heard).toEqual([{ type: 'bus.resumed' }]);
    expect(lines.map((l) => l.msg)).toEqual([
      `event bus lost its LISTEN connection; caches are trusted for at most ${CACHE_TRUST_MS} ms until it is back`,
      'event bus listening again; dropped every cache on this node',
    ]);

    // A late error of the dead connection changes nothing.
    f.conns[0]!.lost(new Error('late'));
    expect(bus.state).toBe('listening');
    await bus.stop();
    expect(f.conns[1]!.closed).toBe(true);
  });

  it('trusts a cache entry at most the stated bound while the bus is down, and none loaded before a gap', async () => {
    const f = fakeRaw();
    let now = 1_000_000;
    const bus = new EventBus(f.raw, pino({ level: 'silent' }), { now: () => now, backoffMs: [60_000, 60_000], heartbeatMs: 60_000 });
    await bus.start();
    const loaded = bus.now();
    now += 60_000;
    // Listening, but no heartbeat for a minute: nothing proves a notification was not missed.
    expect(bus.trusts(loaded)).toBe(false);

    f.kill();
    const fresh = bus.now();
    now += CACHE_TRUST_MS - 1;
    expect(bus.trusts(fresh)).toBe(true);
    now += 1;
    expect(bus.trusts(fresh)).toBe(false);
    expect(bus.state).toBe('down');
    await bus.stop();
  });

  it('trusts entries loaded after LISTEN while heartbeats succeed, and declares the bus down when a heartbeat stalls', async () => {
    const f = fakeRaw();
    let now = 0;
    const bus = new EventBus(f.raw, pino({ level: 'silent' }), { now: () => now, heartbeatMs: 5, trustMs: 1_000, backoffMs: [60_000, 60_000] });
    await bus.start();
    const loaded = bus.now();
    now += 10_000; // long after loading: still good, because the heartbeat keeps proving the connection
    await vi.waitFor(() => expect(bus.trusts(loaded)).toBe(true));
    f.stall(true);
    await vi.waitFor(() => expect(bus.state).toBe('down'), { timeout: 5_000 });
    expect(bus.trusts(loaded)).toBe(false);
    await bus.stop();
  });

  it('is always listening and trusted in single-process (PGlite) mode', async () => {
    let now = 0;
    const bus = new EventBus(fakeRaw(true).raw, pino({ level: 'silent' }), { now: () => now });
    await bus.start();
    now += 3_600_000;
    expect(bus.state).toBe('listening');
    expect(bus.trusts(0)).toBe(true);
    await bus.stop();
  });

  it('publishOrThrow rejects when other nodes cannot be told; publish only logs', async () => {
    const f = fakeRaw();
    f.raw.notify = async () => {
      throw new Error('connection terminated');
    };
    const { logger, lines } = capture();
    const bus = new EventBus(f.raw, logger);
    const local: BusSignal[] = [];
    bus.subscribe((e) => local.push(e));
    const event = { type: 'user.revoked', tenantId: 'ten_1', userId: 'usr_1' } as const;
    await expect(bus.publishOrThrow(event)).rejects.toThrow(/could not notify/);
    await expect(bus.publish(event)).resolves.toBeUndefined();
    expect(local).toEqual([event, event]);
    expect(lines.filter((l) => l.msg === 'could not notify other nodes')).toHaveLength(2);
  });
});
