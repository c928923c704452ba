import { describe, expect, it } from 'vitest';
import { dueAt, latencies, mixCapacity, openLoop, quantile, samplesFor, type Clock } from '../../bench/open-loop.js';

/**
 * A discrete-event clock: `sleepUntil` registers a timer, `run` fires the earliest one (setting the time to it), lets
 * the promises it settles run, and repeats until the awaited promise has settled. No real time passes.
 */
class SimClock implements Clock {
  t = 0;
  private timers: { at: number; resolve: () => void }[] = [];
  now = () => this.t;
  sleepUntil = (at: number) => new Promise<void>((resolve) => void this.timers.push({ at: Math.max(at, this.t), resolve }));
  async run<T>(p: Promise<T>): Promise<T> {
    let settled: { value: T } | null = null;
    void p.then((value) => void (settled = { value }));
    for (;;) {
      await new Promise((r) => setImmediate(r)); // every microtask the last timer released
      if (settled) return (settled as { value: T }).value;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next) throw new Error('nothing left to wait for');
      this.t = next.at;
      next.resolve();
    }
  }
}

/** A server answering every request `serviceMs` after it was sent (in simulated time). */
const server = (clock: SimClock, serviceMs: (i: number) => number) => (i: number) => clock.sleepUntil(clock.now() + serviceMs(i));

describe('openLoop', () => {
  it('sends on schedule whatever the answers take (it never waits for one before sending the next)', async () => {
    const clock = new SimClock();
    const r = await clock.run(openLoop(20, 100, server(clock, () => 50), clock));
    expect(r.sent).toEqual(Array.from({ length: 20 }, (_, i) => dueAt(i, 100)));
    expect(r.sent[19]).toBe(190); // a closed loop of one would have sent the 20th at 19 × 50 ms = 950
    expect(latencies(r).corrected).toEqual(Array(20).fill(50));
    expect(r.end).toBe(240);
  });

  it('counts a stalled load generator against the requests it delayed (coordinated-omission correction)', async () => {
    const sim = new SimClock();
    // The generator's own event loop is blocked for 100 ms when it waits for request 5 (due at 50 ms).
    const stalled: Clock = { now: sim.now, sleepUntil: (at) => sim.sleepUntil(at === 50 ? 150 : at) };
    const r = await sim.run(openLoop(20, 100, server(sim, () => 2), stalled));
    // Requests 5…15 (due 50…150 ms) all go out at 150 ms, in one burst, and none is dropped from the schedule.
    for (let i = 5; i <= 15; i++) expect(r.sent[i]).toBe(150);
    expect(r.sent[16]).toBe(160);
    const l = latencies(r);
    expect(l.uncorrected).toEqual(Array(20).fill(2)); // what the server took: the stall is invisible here
    expect(l.corrected.at(-1)).toBe(102); // request 5 answered 102 ms after it was due
    expect(l.corrected.filter((x) => x > 2)).toHaveLength(10); // requests 5…14 waited behind the stall
    expect(l.lag.filter((x) => x > 0)).toHaveLength(10);
  });

  it('keeps the schedule after a failure and records it apart from the latencies', async () => {
    const clock = new SimClock();
    const send = (i: number) => (i === 3 ? clock.sleepUntil(clock.now() + 1).then(() => Promise.reject(new Error('503'))) : clock.sleepUntil(clock.now() + 1));
    const r = await clock.run(openLoop(10, 100, send, clock));
    expect(r.errors.map((e) => e.i)).toEqual([3]);
    expect(Number.isNaN(r.done[3])).toBe(true);
    const l = latencies(r);
    expect(l.corrected).toHaveLength(9);
    expect(l.lag).toHaveLength(10);
  });

  it('runs an unbounded schedule until told to stop, then waits for the requests in flight', async () => {
    const clock = new SimClock();
    const r = await clock.run(openLoop(Infinity, 100, server(clock, () => 30), clock, () => clock.now() >= 100));
    expect(r.sent).toHaveLength(10); // due 0, 10, …, 90 ms
    expect(r.done.every((d, i) => d === r.sent[i]! + 30)).toBe(true);
  });

  it("ends a request when send says its answer arrived, not when send's own work after that is done", async () => {
    const clock = new SimClock();
    // Each answer arrives 5 ms after the send; the sender then spends 20 ms on it (parsing) before resolving.
    const send = async () => {
      await clock.sleepUntil(clock.now() + 5);
      const receivedAt = clock.now();
      await clock.sleepUntil(clock.now() + 20);
      return receivedAt;
    };
    const r = await clock.run(openLoop(5, 100, send, clock));
    expect(latencies(r).corrected).toEqual(Array(5).fill(5));
    expect(r.end).toBe(65); // the last one, due at 40 ms, resolved at 65
    // Anything but a number: the clock at resolution, as before.
    const plain = await clock.run(openLoop(5, 100, () => send().then(() => 'ok'), clock));
    expect(latencies(plain).corrected).toEqual(Array(5).fill(25));
  });

  it('selects requests by index (one request type of a mix)', async () => {
    const clock = new SimClock();
    const r = await clock.run(openLoop(20, 100, server(clock, (i) => (i % 10 === 9 ? 40 : 1)), clock));
    expect(latencies(r, (i) => i % 10 === 9).corrected).toEqual([40, 40]);
    expect(latencies(r, (i) => i % 10 !== 9).corrected).toEqual(Array(18).fill(1));
  });
});

describe('quantile (nearest rank)', () => {
  const ascending = Array.from({ length: 1000 }, (_, i) => i + 1);
  it('is the smallest value with at least q of the values at or below it', () => {
    expect(quantile(ascending, 0.5)).toBe(500);
    expect(quantile(ascending, 0.99)).toBe(990);
    expect(quantile(ascending, 0.999)).toBe(999);
    expect(quantile(ascending, 1)).toBe(1000);
    expect(quantile([7], 0.5)).toBe(7);
  });
  it('is the maximum when there are too few samples for q, and NaN with none', () => {
    expect(quantile(ascending.slice(0, 10), 0.999)).toBe(10);
    expect(quantile(ascending.slice(0, 99), 0.99)).toBe(99);
    expect(quantile([], 0.5)).toBeNaN();
    expect(samplesFor(0.999)).toBe(1000);
    expect(samplesFor(0.99)).toBe(100);
    expect(samplesFor(0.5)).toBe(2);
  });
});

describe('mixCapacity', () => {
  it('adds up the time each request type holds the saturated system (weighted harmonic mean)', () => {
    // 19 calls at 2,000/s and 1 list at 200/s: 19 × 0.5 ms + 5 ms = 14.5 ms per 20 requests.
    expect(mixCapacity([{ share: 19, perSec: 2000 }, { share: 1, perSec: 200 }])).toBeCloseTo(20 / 0.0145, 6);
    expect(mixCapacity([{ share: 1, perSec: 1234 }])).toBeCloseTo(1234, 9);
  });
});
