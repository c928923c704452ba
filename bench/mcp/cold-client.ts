// The timed client of the cold-path benchmark (bench/cold.ts) in a process of its own: one raw JSON-RPC `tools/list`
// POST per command, its latency measured here, from the send to the answer's last byte. The parent holds the services
// it seeds with and publishes the bus events; in the same process its major collections landed in the samples (the
// largest outliers of the warm and control rows: docs/benchmarks.md, "where the tail of a single request after idle
// goes"). Requests go out as post-json.ts says (BENCH_CLIENT).
//
// It collects garbage after each request, before it answers — its young generation, and every 25th time all of it —
// so that its own collections, triggered by the ~100 kB answers it reads, do not land inside a timed request (runs
// before 2026-12-07 17:19 UTC: one scavenge every ~60 requests, 4–5 ms each on this machine, inside the timed window of
// ~1.7 % of the samples — the order of the p99 being measured; runs before 19:10 UTC: V8's own major collections
// instead, overlapping 7 of 2,850 timed requests, 7 of the 17–19 slower than 5 ms). What still overlaps is counted and
// printed (ClientGcReport).
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { serveIpc } from '../ipc.js';
import { benchClient, postJson } from './post-json.js';

export type ColdCommand = { op: 'list'; url: string; token: string; expect: string } | { op: 'gc' };

/**
 * This process's GC pauses (ms) since the last report — those it collected between requests apart (`forced`) — and how
 * many timed requests one of them overlapped: all of them, and those slower than `SLOW_MS` (the goal's 5 ms). A pause
 * here is the load generator's, not the gateway's.
 */
export interface ClientGcReport {
  pauses: number[];
  /** The pauses (not the forced collections) by kind: `minor`, `major`, `incremental` (marking steps), `weakcb`. */
  kinds: Record<string, number>;
  forced: number[];
  requests: number;
  overlapped: number;
  slow: number;
  slowOverlapped: number;
}

const SLOW_MS = 5;

/** V8's `gc` with `--expose-gc` (bench/cold.ts starts this process so); absent otherwise, and then nothing is collected here. */
const collect = (globalThis as { gc?: (options: { type: 'minor' | 'major' }) => void }).gc;

/** The `kind` of a GC performance entry, as ClientGcReport names it. */
const KIND_NAMES: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const client = benchClient();
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
/** This process's GC pauses as [start, duration] (ms, performance.now()), and the timed requests' windows: reset on `gc`. */
let pauses: [number, number][] = [];
let kinds: Record<string, number> = {};
let forced: number[] = [];
let timed: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const detail = (e as { detail?: { flags?: number; kind?: number } }).detail;
    if ((detail?.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) forced.push(e.duration);
    else {
      pauses.push([e.startTime, e.duration]);
      const kind = KIND_NAMES[detail?.kind ?? 0] ?? String(detail?.kind);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
  }
}).observe({ entryTypes: ['gc'] });

function report(): ClientGcReport {
  const hit = ([t0, ms]: [number, number]) => pauses.some(([start, d]) => start < t0 + ms && start + d > t0);
  const slow = timed.filter(([, ms]) => ms > SLOW_MS);
  const r = { pauses: pauses.map(([, d]) => d), kinds, forced, requests: timed.length, overlapped: timed.filter(hit).length, slow: slow.length, slowOverlapped: slow.filter(hit).length };
  pauses = [];
  kinds = {};
  forced = [];
  timed = [];
  return r;
}

/** One timed request, its answer checked; returns its latency. The answer is garbage once this returns. */
async function timedList(c: Extract<ColdCommand, { op: 'list' }>): Promise<number> {
  const t0 = performance.now();
  const { status, text } = await postJson(client, c.url, { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body);
  const ms = performance.now() - t0;
  timed.push([t0, ms]);
  if (status !== 200 || !text.includes(c.expect)) throw new Error(`tools/list: ${status} ${text.slice(0, 200)}`);
  return ms;
}

/** Every MAJOR_EVERY-th collection between requests is a full one (below). */
const MAJOR_EVERY = 25;
let served = 0;

serveIpc(async (c: ColdCommand) => {
  if (c.op === 'gc') return report();
  const ms = await timedList(c);
  // Collected once the answer is unreachable. A scavenge after every request also promotes whatever lived across two
  // of them (the connection's and the IPC channel's state), and the old generation that filled was marked and
  // compacted by V8's own major collections, some inside timed requests (4 major and 7 incremental pauses in 960
  // requests, 2026-12-07 19:10 UTC); a full collection every 25 requests keeps it from growing to V8's limit.
  collect?.({ type: ++served % MAJOR_EVERY === 0 ? 'major' : 'minor' });
  return ms;
});
