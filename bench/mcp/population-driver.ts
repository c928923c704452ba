// The load generator of the MCP population benchmark (bench/mcp-population.ts) in a process of its own: it holds only
// the population's URLs, tokens and session ids, and sends the requests the parent names over IPC. The parent keeps
// the services it seeded with (a full application heap); in the same process their garbage collections were the
// load generator's, and its pauses — scavenges of ~17 ms, mark-compacts up to 180 ms (measured) — counted as the
// servers' latency and held back the open-loop schedule. Requests go out as post-json.ts says (BENCH_CLIENT).
//
// Messages: {op: 'setup', population} once; then {op: 'closed' | 'open', via, u, tool, concurrency | rate}; each
// answered with what the phase measured (per-request latency and send time, the driver's own CPU, GC pauses and
// event-loop delay). Request i of a phase: user u[i] calls tool tool[i] (tool[i] < 0: tools/list).
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { serveIpc } from '../ipc.js';
import { openLoop, type OpenLoopResult } from '../open-loop.js';
import { toolName } from './population.js';
import { benchClient, mcpHeaders, postJson } from './post-json.js';

const client = benchClient();

export interface DriverPopulation {
  usersPerTenant: number;
  proxyUrl: string;
  /** The minimal hop (minimal-hop.ts): sent the bare proxy's requests. */
  floorUrl: string;
  tenants: { resource: string; tokens: string[]; sessions: string[]; proxySession: string }[];
}

export type Via = 'gateway' | 'proxy' | 'floor';

export type DriverCommand =
  | { op: 'setup'; population: DriverPopulation }
  | { op: 'closed'; via: Via; u: number[]; tool: number[]; concurrency: number }
  | { op: 'open'; via: Via; u: number[]; tool: number[]; rate: number };

/** What the driver itself did during a phase: its CPU, its GC pauses and how late its event loop ran. */
export interface DriverSelf {
  cpuUs: number;
  gcPauses: number;
  gcMs: number;
  gcMaxMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface PhaseReport {
  /** Epoch ms at which each request was sent (the gateway's caches are replayed with them). */
  sentAt: number[];
  /** Tools in the tools/list answers, and how many such answers. */
  listed: [number, number];
  self: DriverSelf;
}
export interface ClosedReport extends PhaseReport {
  /** Per request (by index): ms from send to the answer's last byte. */
  latencies: number[];
  ms: number;
}
export interface OpenReport extends PhaseReport {
  r: Omit<OpenLoopResult, 'errors'> & { errors: { i: number; error: string }[] };
}

let population: DriverPopulation | undefined;

/**
 * Sends request i of a phase; resolves with the number of tools listed (tools/list) or -1, and the time its answer's
 * last byte arrived (`performance.now()`). Latency ends there, as bench/mcp/cold-client.ts times it and as wrk and
 * autocannon do: parsing and checking the answer afterwards is the load generator's work, not the server's (a
 * 201-tool answer is ~100 kB of JSON; runs before 2026-12-07 07:50 UTC counted its parse, ~1 ms of this process's CPU).
 */
async function send(via: Via, u: number, tool: number, id: number): Promise<{ tools: number; receivedAt: number }> {
  const p = population!;
  const tn = p.tenants[Math.floor(u / p.usersPerTenant)]!;
  const j = u % p.usersPerTenant;
  const body =
    tool < 0
      ? { jsonrpc: '2.0', id, method: 'tools/list' }
      : { jsonrpc: '2.0', id, method: 'tools/call', params: { name: via === 'gateway' ? `up__${toolName(tool)}` : toolName(tool), arguments: { text: 'hello' } } };
  const url = via === 'gateway' ? tn.resource : via === 'floor' ? p.floorUrl : p.proxyUrl;
  const { status, text } = await postJson(client, url, mcpHeaders(tn.tokens[j]!, via === 'gateway' ? tn.sessions[j]! : tn.proxySession), JSON.stringify(body));
  const receivedAt = performance.now();
  if (status !== 200) throw new Error(`${via}: ${status} ${text.slice(0, 300)}`);
  // Every answer is parsed and checked, as a client would: an error or a failed tool fails the benchmark.
  const json = JSON.parse(text) as { result?: { isError?: boolean; tools?: unknown[] }; error?: unknown };
  if (json.error || json.result?.isError) throw new Error(`${via}: ${text.slice(0, 300)}`);
  return { tools: tool < 0 ? (json.result?.tools?.length ?? 0) : -1, receivedAt };
}

/** Measures the driver itself over a phase. */
function watchSelf() {
  const cpu0 = process.cpuUsage();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push(e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  return (): DriverSelf => {
    loop.disable();
    gc.disconnect();
    const cpu = process.cpuUsage(cpu0);
    return {
      cpuUs: cpu.user + cpu.system,
      gcPauses: pauses.length,
      gcMs: pauses.reduce((a, b) => a + b, 0),
      gcMaxMs: Math.max(0, ...pauses),
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
    };
  };
}

const epoch = () => performance.timeOrigin + performance.now();

async function closed(c: Extract<DriverCommand, { op: 'closed' }>): Promise<ClosedReport> {
  const n = c.u.length;
  const latencies = new Array<number>(n);
  const sentAt = new Array<number>(n);
  const listed: [number, number] = [0, 0];
  const done = watchSelf();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: c.concurrency }, async () => {
      while (next < n) {
        const i = next++;
        sentAt[i] = epoch();
        const t0 = performance.now();
        const { tools, receivedAt } = await send(c.via, c.u[i]!, c.tool[i]!, i + 1);
        latencies[i] = receivedAt - t0;
        if (tools >= 0) {
          listed[0] += tools;
          listed[1]++;
        }
      }
    }),
  );
  const ms = performance.now() - started;
  return { latencies, ms, sentAt, listed, self: done() };
}

async function open(c: Extract<DriverCommand, { op: 'open' }>): Promise<OpenReport> {
  const sentAt = new Array<number>(c.u.length);
  const listed: [number, number] = [0, 0];
  const done = watchSelf();
  const r = await openLoop(c.u.length, c.rate, async (i) => {
    sentAt[i] = epoch();
    const { tools, receivedAt } = await send(c.via, c.u[i]!, c.tool[i]!, i + 1);
    if (tools >= 0) {
      listed[0] += tools;
      listed[1]++;
    }
    return receivedAt; // openLoop's clock is performance.now() (realClock)
  });
  return { r: { ...r, errors: r.errors.map((e) => ({ i: e.i, error: String(e.error) })) }, sentAt, listed, self: done() };
}

serveIpc(async (m: DriverCommand): Promise<ClosedReport | OpenReport | null> => {
  if (m.op === 'setup') {
    population = m.population;
    return null;
  }
  return m.op === 'closed' ? closed(m) : open(m);
});
