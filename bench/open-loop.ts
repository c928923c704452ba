// Open-loop load at a fixed offered rate, as latency objectives are measured (Gil Tene's wrk2 and HdrHistogram
// practice): request i is due at start + i / rate whether or not earlier requests have answered, and its latency is
// counted from that due time, not from when the load generator got round to sending it. A closed loop (a fixed number
// of requests in flight, bench/support.ts `drive`) sends the next request only after an answer, so while the server
// stalls it stops asking and the stall is recorded once instead of in every request that would have waited behind it
// ("coordinated omission"); and run at saturation it measures queueing in front of a full machine, not the service.
// Pure scheduling and statistics; the clock is injected (tests drive it by hand).

export interface Clock {
  now(): number;
  /** Resolves at (or after) time `t` of `now()`. */
  sleepUntil(t: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleepUntil: (t) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - performance.now()))),
};

/** Due time of request i, in ms after the start: evenly spaced at `perSec` (wrk2's constant throughput). */
export const dueAt = (i: number, perSec: number) => (i * 1000) / perSec;

export interface OpenLoopResult {
  /** Per request (by index): due time, actual send time, completion time (NaN while unanswered or failed). */
  due: number[];
  sent: number[];
  done: number[];
  errors: { i: number; error: unknown }[];
  /** Time of the first due request (the schedule's origin) and of the last completion. */
  start: number;
  end: number;
}

/**
 * Sends `send(i)` for i = 0…n−1 at `perSec`, never waiting for answers (open loop), until n requests are sent or
 * `stop()` says so (a background load of unknown length: n = Infinity). Every request whose due time has passed is
 * sent at once, so a load generator that fell behind catches up instead of stretching the schedule; how late each
 * went out is `sent − due`. Failures are recorded, not thrown (the schedule goes on, as a real client's would).
 * A request is complete when `send` says so: it may resolve with the time (on `clock`) its answer's last byte arrived,
 * so that what the load generator does with the answer afterwards (parse it, check it) is not counted as the
 * server's latency; resolving with anything else reads the clock then.
 */
export async function openLoop(n: number, perSec: number, send: (i: number) => Promise<unknown>, clock: Clock = realClock, stop: () => boolean = () => false): Promise<OpenLoopResult> {
  const r: OpenLoopResult = { due: [], sent: [], done: [], errors: [], start: clock.now(), end: NaN };
  const inFlight: Promise<void>[] = [];
  let i = 0;
  while (i < n && !stop()) {
    const now = clock.now();
    while (i < n && r.start + dueAt(i, perSec) <= now) {
      const k = i++;
      r.due[k] = r.start + dueAt(k, perSec);
      r.sent[k] = clock.now();
      r.done[k] = NaN;
      inFlight.push(
        send(k).then(
          (receivedAt) => void (r.done[k] = typeof receivedAt === 'number' ? receivedAt : clock.now()),
          (error: unknown) => void r.errors.push({ i: k, error }),
        ),
      );
    }
    if (i < n) await clock.sleepUntil(r.start + dueAt(i, perSec));
  }
  await Promise.all(inFlight);
  r.end = clock.now();
  return r;
}

/** Latencies (ms, ascending) of the answered requests `which` selects: from the due time (corrected) and from the send (uncorrected). */
export function latencies(r: OpenLoopResult, which: (i: number) => boolean = () => true) {
  const corrected: number[] = [];
  const uncorrected: number[] = [];
  const lag: number[] = [];
  for (let i = 0; i < r.due.length; i++) {
    if (!which(i)) continue;
    lag.push(r.sent[i]! - r.due[i]!);
    if (Number.isNaN(r.done[i])) continue;
    corrected.push(r.done[i]! - r.due[i]!);
    uncorrected.push(r.done[i]! - r.sent[i]!);
  }
  const asc = (a: number[]) => a.sort((x, y) => x - y);
  return { corrected: asc(corrected), uncorrected: asc(uncorrected), lag: asc(lag) };
}

/**
 * The q-quantile (0 < q ≤ 1) of an ascending list by the nearest-rank method: the smallest value with at least q of
 * the values at or below it (so p99.9 of 1,000 values is the largest, and of fewer it is only a maximum). NaN if empty.
 */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}

/** Fewest samples for which a q-quantile is not simply the maximum (nearest rank): 1 / (1 − q), e.g. 1,000 for p99.9. */
export const samplesFor = (q: number) => Math.ceil(1 / (1 - q) - 1e-9);

/**
 * Requests per second a closed loop could sustain for a mix, from each request type's own closed-loop throughput:
 * each request of type k occupies 1 / rate_k seconds of the saturated system, so a mix with shares s_k sustains
 * 1 / Σ (s_k / rate_k) (the harmonic mean weighted by share).
 */
export function mixCapacity(parts: { share: number; perSec: number }[]): number {
  const total = parts.reduce((a, p) => a + p.share, 0);
  return 1 / parts.reduce((a, p) => a + p.share / total / p.perSec, 0);
}
