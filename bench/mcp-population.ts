// MCP with a realistic population (`npm run bench -- mcp-population`, issue 17 §1): TENANTS tenants × USERS users,
// each user with their own access token and MCP session, 20 groups and 200 approved tools per tenant, requests spread
// over all users, so the gateway's per-node caches (verified tokens, verified session ids, each user's callable tools)
// see the hit rate such a population gives them. `tools/call` and `tools/list` through the gateway against the bare
// reverse proxy in the same run. Goals: tools/call p50 ≤ 1.25× and throughput ≥ 0.8× of the proxy; tools/list of
// 200 tools p99 < 20 ms.
//
// Topology as bench/mcp.ts: load generator (bench/mcp/population-driver.ts, a process of its own holding only URLs,
// tokens and session ids: raw JSON-RPC POSTs as an MCP client sends them once its session is up, on undici's
// dispatcher API; this process seeds, initializes the sessions and tells it what to send), upstream (the SDK's McpServer with 200 more tools, bench/mcp/upstream.ts), bare proxy,
// minimal authorising hop (bench/mcp/minimal-hop.ts: the floor of any hop that reads each call, tools/call only) and
// gateway (`node dist/server.js`, logging at info) are separate processes; proxy, minimal hop and gateway rounds
// alternate and replay the same request sequence. Through the proxy each tenant's requests share one upstream session (the gateway
// pools one per upstream too) and carry the user's bearer token (same bytes; the upstream ignores it).
//
// Population (bench/mcp/population.ts): users, groups and memberships seeded with SQL (bench/seed.ts); tools listed
// by the upstream and approved with the real admin code (approveTool), the first EVERYONE for everyone, each other one
// for 3 of 19 department groups, all for a 1 %-of-users "platform" group. Tokens: BENCH_POP_REAL_TOKENS per tenant
// from the real authorization-code flow, the rest minted like them (bench/seed.ts mintTokens: the same claims, key
// and grant rows, which is all the gateway's verifier reads). Sessions: a real `initialize` per user, untimed.
// Users are picked by Zipf's law (BENCH_POP_ZIPF, exponent; 0 = uniform) over all TENANTS × USERS users; a call goes
// to a tool the user may call, chosen uniformly. Cache hit rates are the gateway's caches replayed over the requests
// sent (population.ts CacheReplay; the gateway keeps no counters).
// BENCH_POP_NODE_ARGS passes flags to the gateway's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof";
// BENCH_FLOOR_NODE_ARGS to the minimal hop's (BENCH_FLOOR_IN_GATEWAY=1 runs it inside the gateway's node), BENCH_UPSTREAM_NODE_ARGS to the bench upstream's (e.g. "--cpu-prof --cpu-prof-dir=/tmp/up" or "--trace-gc"), and
// BENCH_UPSTREAM_PROBE=<ms> makes it report its event-loop stalls and GC pauses (bench/mcp/stall-probe.ts).
//
// The closed-loop rounds (CONCURRENCY requests always in flight) saturate the machine: they are the throughput goal.
// Latency is then measured again OPEN-LOOP (bench/open-loop.ts): the same mix (one request in LIST_EVERY a 201-tool
// list) offered at a fixed rate, BENCH_POP_OPEN_UTILISATION (0.5) × the bare proxy's closed-loop capacity for that mix
// in this run, the same rate for proxy and gateway, each request timed from its due time (docs/benchmarks.md,
// "latency measured open-loop"). BENCH_POP_OPEN_REQUESTS (20,000) per path and round.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { mcpResourceUrl } from '../src/mcp/mcp-resource.js';
import { findTenantBySlug } from '../src/tenants/find-tenant.js';
import { createTenant } from '../src/tenants/manage-tenants.js';
import { approveTool } from '../src/tools/approve-tools.js';
import { addUpstream } from '../src/tools/manage-upstreams.js';
import { latencies, mixCapacity, quantile, samplesFor } from './open-loop.js';
import { CacheReplay, designTenant, toolName, userSampler, type TenantDesign } from './mcp/population.js';
import { mintTokens, realTokens, seedGroups, seedMemberships, seedUsers, type App } from './seed.js';
import { closeServices, cpuUs, drive, gcTotals, pct, postgresCpuUs, rssMb, startAppProcess, startProcess, stop } from './support.js';
import { freePort } from '../test/support/test-app.js';
import { startDriver } from './mcp/driver-client.js';
import { benchClient, mcpHeaders as headers } from './mcp/post-json.js';
import type { DriverSelf, OpenReport, Via } from './mcp/population-driver.js';
import { MAX_AGE_MS as TOOLS_MAX_AGE_MS } from '../src/tools/callable-tools-cache.js';

const TENANTS = Number(process.env.BENCH_POP_TENANTS ?? 10);
const USERS = Number(process.env.BENCH_POP_USERS ?? 1000);
const GROUPS = 20;
const TOOLS = Number(process.env.BENCH_POP_TOOLS ?? 200);
const EVERYONE = Math.min(TOOLS, 20);
const REAL_TOKENS = Number(process.env.BENCH_POP_REAL_TOKENS ?? 10);
const CALLS = Number(process.env.BENCH_POP_CALLS ?? 20000);
const LISTS = Number(process.env.BENCH_POP_LISTS ?? 2000);
const LIST_EVERY = Number(process.env.BENCH_POP_LIST_EVERY ?? 20);
const ROUNDS = Number(process.env.BENCH_POP_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_POP_CONCURRENCY ?? 8);
const ZIPF = Number(process.env.BENCH_POP_ZIPF ?? 1);
const OPEN_UTILISATION = Number(process.env.BENCH_POP_OPEN_UTILISATION ?? 0.5);
const OPEN_REQUESTS = Number(process.env.BENCH_POP_OPEN_REQUESTS ?? 20000);
/** A request sent more than this after its due time fell behind schedule (Node's timers fire on a 1 ms granularity). */
const LATE_MS = 2;
/** The gateway's cache bounds and the permission cache's backstop age (src/oauth/verify-access-token.ts, src/mcp/mcp-session-id.ts, src/tools/callable-tools-cache.ts). */
const TOKEN_BOUND = 10_000;
const SESSION_BOUND = 10_000;
const TOOLS_BOUND = 10_000;

interface Tenant {
  slug: string;
  resource: string;
  design: TenantDesign;
  tokens: string[];
  sessions: string[];
  proxySession: string;
}

async function rpc(url: string, h: Record<string, string>, body: unknown): Promise<{ result?: Record<string, unknown>; session: string | null }> {
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 202) throw new Error(`${url}: ${res.status} ${text.slice(0, 300)}`);
  const json = (text ? JSON.parse(text) : {}) as { result?: Record<string, unknown>; error?: unknown };
  if (json.error || (json.result && json.result.isError)) throw new Error(`${url}: ${text.slice(0, 300)}`);
  return { result: json.result, session: res.headers.get('mcp-session-id') };
}

const initialize = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench', version: '1.0.0' } } };

export async function main(databaseUrl: string): Promise<void> {
  const load0 = os.loadavg();
  const upstreamArgs = process.env.BENCH_UPSTREAM_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const upstream = startProcess(process.execPath, [...upstreamArgs, '--import', 'tsx', 'bench/mcp/upstream.ts'], { BENCH_UPSTREAM_TOOLS: String(TOOLS) });
  const upstreamUrl = await upstream.url;
  const gatewayArgs = process.env.BENCH_POP_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // BENCH_FLOOR_IN_GATEWAY=1: the minimal hop's code runs inside the gateway's node instead, on a port of its own, and
  // its rows count the gateway process's CPU: what the gateway's process (its live heap, its collector) makes the same
  // code cost (docs/benchmarks.md, "what the gateway's process makes the same code cost"). tsx's loader comes along.
  const floorInGateway = process.env.BENCH_FLOOR_IN_GATEWAY === '1' ? { port: await freePort() } : undefined;
  const gateway = await startAppProcess(
    databaseUrl,
    'mcppop',
    floorInGateway ? [...gatewayArgs, '--import', 'tsx', '--import', path.join(import.meta.dirname, 'mcp/minimal-hop.ts')] : gatewayArgs,
    floorInGateway ? { env: { TARGET: upstreamUrl, BENCH_FLOOR_PORT: String(floorInGateway.port), BENCH_FLOOR_IN_PROCESS: '1' } } : {},
  );
  const bare = startProcess(process.execPath, ['--import', 'tsx', 'bench/mcp/bare-proxy.ts'], { TARGET: upstreamUrl.replace(/\/mcp$/, '') });
  const floorArgs = process.env.BENCH_FLOOR_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const floor = floorInGateway ? undefined : startProcess(process.execPath, [...floorArgs, '--import', 'tsx', 'bench/mcp/minimal-hop.ts'], { TARGET: upstreamUrl });
  const pool = new pg.Pool({ connectionString: gateway.db.url, max: 4 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) at the end terminates idle connections
  const services = await gateway.services();
  let driverChild: ChildProcess | undefined; // the load generator, stopped in `finally` whatever happens
  try {
    const proxyUrl = `${await bare.url}/mcp`;
    const floorUrl = floor ? await floor.url : `http://127.0.0.1:${floorInGateway!.port}${new URL(upstreamUrl).pathname}`;
    await gateway.ready;
    const app = { url: gateway.publicUrl, services } as App;
    const seedStarted = performance.now();
    const tenants: Tenant[] = [];
    const groupNames = Array.from({ length: GROUPS }, (_, g) => (g === GROUPS - 1 ? 'platform' : `dept${String(g + 1).padStart(2, '0')}`));
    await Promise.all(
      Array.from({ length: TENANTS }, async (_, k) => {
        const slug = `pop${k}`;
        await createTenant(services.db, { slug, name: `Population ${k}` });
        const t = (await findTenantBySlug(services.db, slug))!;
        const design = designTenant(1000 + k, USERS, GROUPS, TOOLS, EVERYONE);
        const userIds = await seedUsers(pool, t.id, `${slug}_`, USERS);
        const groupIds = await seedGroups(pool, t.id, `${slug}_`, groupNames);
        await seedMemberships(pool, t.id, design.userGroups.flatMap((gs, u) => gs.map((g) => [groupIds[g]!, userIds[u]!] as [string, string])));
        await addUpstream(services, t, { name: 'up', url: upstreamUrl, headers: {} });
        for (let tool = 0; tool < TOOLS; tool++) {
          const granted = design.groupTools.flatMap((tools, g) => (tools.includes(tool) ? [groupNames[g]!] : []));
          await approveTool(services, t, `up__${toolName(tool)}`, tool < EVERYONE ? [] : granted);
        }
        const real = await realTokens(app, t, userIds.slice(0, REAL_TOKENS), 2);
        const minted = await mintTokens(services, pool, t, real[0]!, userIds.slice(REAL_TOKENS));
        const proxySession = (await rpc(proxyUrl, headers('x', ''), initialize)).session!;
        await rpc(proxyUrl, headers('x', proxySession), { jsonrpc: '2.0', method: 'notifications/initialized' });
        tenants[k] = { slug, resource: mcpResourceUrl(gateway.publicUrl, t), design, tokens: [...real, ...minted], sessions: [], proxySession };
      }),
    );
    await pool.query('ANALYZE');
    const N = TENANTS * USERS;
    const tokenCache = new CacheReplay(TOKEN_BOUND);
    const sessionCache = new CacheReplay(SESSION_BOUND);
    const toolsCache = new CacheReplay(TOOLS_BOUND, TOOLS_MAX_AGE_MS);
    // Every user's MCP session, as their client would open it (the bearer check caches the token here).
    await drive(N, CONCURRENCY, async (u) => {
      const tn = tenants[Math.floor(u / USERS)]!;
      tn.sessions[u % USERS] = (await rpc(tn.resource, headers(tn.tokens[u % USERS]!, ''), initialize)).session!;
      // Epoch ms: the load generator's process replays its sends on the same clock.
      tokenCache.touch(u, performance.timeOrigin + performance.now(), false);
      // The gateway remembers the session ids it issues as proved (mcp-session-id.ts): no HMAC on their first use.
      sessionCache.touch(u, performance.timeOrigin + performance.now(), false);
      // A token's first request reads the user's callable tools in the same statement and installs them
      // (src/mcp/cold-read.ts): the initialize loads this cache too (runs before 2026-12-07 07:30 UTC left this out and
      // so printed a hit rate below the gateway's: one miss per user on their first timed call, which made no query).
      toolsCache.touch(u, performance.timeOrigin + performance.now(), false);
    });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const rssAfterSeed = rssMb(gateway.child.pid!);

    // The request sequences: the same for both paths.
    const pick = userSampler(N, ZIPF, 42);
    const r = (() => {
      let seed = 7;
      return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    })();
    const platformUsers = Array.from({ length: N }, (_, u) => u).filter((u) => tenants[Math.floor(u / USERS)]!.design.userGroups[u % USERS]!.includes(GROUPS - 1));
    const callSeq = (n: number) =>
      Array.from({ length: n }, () => {
        const u = pick();
        const tools = tenants[Math.floor(u / USERS)]!.design.userTools[u % USERS]!;
        return { u, tool: tools[Math.floor(r() * tools.length)]! };
      });
    const listSeq = (n: number, platform: boolean) => Array.from({ length: n }, () => ({ u: platform ? platformUsers[Math.floor(r() * platformUsers.length)]! : pick(), tool: -1 }));
    type Req = { u: number; tool: number };

    /** Tools returned by the gateway's timed tools/list answers, and how many answers (all users; platform users). */
    const listed = { all: [0, 0], platform: [0, 0], mixed: [0, 0], open: [0, 0] };
    const driver = startDriver();
    driverChild = driver.child;
    await driver.ready;
    await driver.setup({ population: { usersPerTenant: USERS, proxyUrl, floorUrl, tenants: tenants.map((tn) => ({ resource: tn.resource, tokens: tn.tokens, sessions: tn.sessions, proxySession: tn.proxySession })) } });
    const cols = (seq: Req[]) => ({ u: seq.map((x) => x.u), tool: seq.map((x) => x.tool) });
    /** The gateway's caches replayed over the requests in the order and at the times the load generator sent them. */
    const replay = (seq: Req[], sentAt: number[], count: boolean) =>
      seq.forEach(({ u }, i) => {
        tokenCache.touch(u, sentAt[i]!, count);
        sessionCache.touch(u, sentAt[i]!, count);
        toolsCache.touch(u, sentAt[i]!, count);
      });
    const tallied = (tally: number[] | undefined, listedNow: [number, number]) => {
      if (!tally) return;
      tally[0]! += listedNow[0];
      tally[1]! += listedNow[1];
    };
    /** Driver phases' own GC and event-loop figures, closed-loop and open-loop (printed with the results). */
    const driverSelf = { closed: [] as DriverSelf[], open: [] as DriverSelf[] };
    const hop = { proxy: bare.child, floor: floor?.child ?? gateway.child, gateway: gateway.child };
    /** A closed-loop phase with what it cost: per request, the hop's CPU, PostgreSQL's, the upstream's and the load generator's. */
    const closedPhase = async (via: Via, seq: Req[], count: boolean, tally?: number[]) => {
      const hop0 = cpuUs(hop[via]);
      const up0 = cpuUs(upstream.child);
      const pg0 = postgresCpuUs();
      const rep = await driver.closed({ via, ...cols(seq), concurrency: CONCURRENCY });
      const n = seq.length;
      const run = {
        latencies: [...rep.latencies].sort((a, b) => a - b),
        byIndex: rep.latencies,
        perSec: (n / rep.ms) * 1000,
        hopCpuUs: (cpuUs(hop[via]) - hop0) / n,
        clientCpuUs: rep.self.cpuUs / n,
        pgCpuUs: Math.max(0, postgresCpuUs() - pg0) / n,
        upstreamCpuUs: (cpuUs(upstream.child) - up0) / n,
      };
      if (via === 'gateway') replay(seq, rep.sentAt, count);
      tallied(tally, rep.listed);
      if (count) driverSelf.closed.push(rep.self);
      return run;
    };
    // Warm-up (JIT, sockets, pooled upstream sessions); its requests count in the cache replays' state, not their rates.
    for (const via of ['proxy', 'gateway'] as const) {
      await closedPhase(via, callSeq(500), false);
      await closedPhase(via, listSeq(100, false), false);
    }
    await closedPhase('floor', callSeq(500), false);

    // Lists as clients send them: once per session and after list_changed, so mixed into the calls (one in
    // LIST_EVERY requests, "platform" users: all 201 tools), each list's latency timed apart. The list rounds above
    // are a flood (every request a ~100 kB answer the load generator parses on the same cores), a stress case.
    const mixedSeq = (n: number) => callSeq(n).map((x, i) => (i % LIST_EVERY === LIST_EVERY - 1 ? listSeq(1, true)[0]! : x));
    const mixedLists: number[] = [];

    type Run = Awaited<ReturnType<typeof closedPhase>>;
    type OpenRun = { r: OpenReport['r']; isList: (i: number) => boolean; hopCpuUs: number };
    const meanOf = (rs: Run[]) => rs.reduce((a, x) => a + x.perSec, 0) / rs.length;
    const runs = { callProxy: [] as Run[], callFloor: [] as Run[], callGateway: [] as Run[], listProxy: [] as Run[], listGateway: [] as Run[], listPlatform: [] as Run[] };
    /** The gateway's garbage collection during its closed-loop tools/call phases (its own metrics). */
    const gatewayGc = { major: 0, pauseUs: 0, calls: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const calls = callSeq(CALLS);
      const listsAll = listSeq(LISTS, false);
      const listsPlatform = listSeq(LISTS, true);
      runs.callProxy.push(await closedPhase('proxy', calls, true));
      runs.callFloor.push(await closedPhase('floor', calls, true));
      const gc0 = await gcTotals(gateway.metricsUrl);
      runs.callGateway.push(await closedPhase('gateway', calls, true));
      const gc1 = await gcTotals(gateway.metricsUrl);
      gatewayGc.major += gc1.major - gc0.major;
      gatewayGc.pauseUs += gc1.pauseUs - gc0.pauseUs;
      gatewayGc.calls += calls.length;
      runs.listProxy.push(await closedPhase('proxy', listsAll, true));
      runs.listGateway.push(await closedPhase('gateway', listsAll, true, listed.all));
      runs.listPlatform.push(await closedPhase('gateway', listsPlatform, true, listed.platform));
      const mixed = mixedSeq(CALLS / 2);
      const m = await closedPhase('gateway', mixed, true, listed.mixed);
      mixed.forEach((x, i) => x.tool < 0 && mixedLists.push(m.byIndex[i]!));
    }

    // Open loop: the mix offered at a fixed rate below saturation, the same schedule and requests for both paths.
    const capacity = mixCapacity([{ share: LIST_EVERY - 1, perSec: meanOf(runs.callProxy) }, { share: 1, perSec: meanOf(runs.listProxy) }]);
    const rate = OPEN_UTILISATION * capacity;
    const open = { proxy: [] as OpenRun[], gateway: [] as OpenRun[] };
    // BENCH_POP_OPEN_REQUESTS=0: closed-loop rounds only (profiles, quick comparisons); no open-loop table.
    for (let round = 0; OPEN_REQUESTS > 0 && round < ROUNDS; round++) {
      const seq = mixedSeq(OPEN_REQUESTS);
      for (const via of ['proxy', 'gateway'] as const) {
        const cpu0 = cpuUs(hop[via]);
        const rep = await driver.open({ via, ...cols(seq), rate });
        open[via].push({ r: rep.r, isList: (i) => seq[i]!.tool < 0, hopCpuUs: (cpuUs(hop[via]) - cpu0) / OPEN_REQUESTS });
        if (via === 'gateway') replay(seq, rep.sentAt, true);
        tallied(via === 'gateway' ? listed.open : undefined, rep.listed);
        driverSelf.open.push(rep.self);
      }
    }
    mixedLists.sort((a, b) => a - b);
    if (mixedLists.length === 0) mixedLists.push(NaN); // BENCH_POP_LIST_EVERY above the calls: a calls-only run (profiles)
    const rssAfterRun = rssMb(gateway.child.pid!);

    const summary = (rs: Run[]) => {
      const all = rs.flatMap((x) => x.latencies).sort((a, b) => a - b);
      const mean = (f: (x: Run) => number) => rs.reduce((a, x) => a + f(x), 0) / rs.length;
      return { p50: pct(all, 50), p99: pct(all, 99), perSec: mean((x) => x.perSec), hop: mean((x) => x.hopCpuUs), client: mean((x) => x.clientCpuUs), pg: mean((x) => x.pgCpuUs), upstream: mean((x) => x.upstreamCpuUs) };
    };
    const s = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, summary(v)])) as Record<keyof typeof runs, ReturnType<typeof summary>>;
    const visible = tenants.flatMap((tn) => tn.design.userTools.map((x) => x.length));
    const load1 = os.loadavg();
    const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
    console.log(
      `\n## MCP with a realistic population on PostgreSQL (${TENANTS} tenants × ${USERS} users, ${GROUPS} groups and ${TOOLS} approved tools per tenant; ` +
        `${ROUNDS} rounds × ${CALLS} calls and ${LISTS} lists per path at concurrency ${CONCURRENCY}; ${os.cpus().length} cores; load average ${fmtLoad(load0)} before, ${fmtLoad(load1)} after)`,
    );
    console.log(
      `Users picked by ${ZIPF === 0 ? 'a uniform distribution' : `Zipf's law (s = ${ZIPF})`} over all ${N} users; tools a user may call: ` +
        `${Math.min(...visible)}–${Math.max(...visible)}, mean ${(visible.reduce((a, b) => a + b, 0) / visible.length).toFixed(0)} (plus the built-in whoami); ` +
        `${platformUsers.length} "platform" users see all ${TOOLS}. Seeding took ${seedSeconds.toFixed(0)} s (${REAL_TOKENS} tokens per tenant from the code flow, the rest minted like them).`,
    );
    const ratio = (x: ReturnType<typeof summary>, base: ReturnType<typeof summary>) => `${(x.p50 / base.p50).toFixed(2)}× | ${(x.perSec / base.perSec).toFixed(2)}×`;
    const row = (label: string, x: ReturnType<typeof summary>, base: ReturnType<typeof summary> | null, goal: string) =>
      `| ${label} | ${x.p50.toFixed(2)} ms | ${x.p99.toFixed(2)} ms | ${x.perSec.toFixed(0)}/s | ${base ? ratio(x, base) : '| '} | ${x.hop.toFixed(0)} µs | ${x.pg.toFixed(0)} µs | ${x.upstream.toFixed(0)} µs | ${x.client.toFixed(0)} µs | ${goal} |`;
    const met = (ok: boolean) => (ok ? 'met' : '**not met**');
    console.log('| request, path | p50 | p99 | throughput | p50 ÷ bare proxy | throughput ÷ bare proxy | CPU per request of the hop | PostgreSQL CPU per request | upstream CPU per request | load generator CPU per request | goal |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    console.log(row('tools/call, bare reverse proxy', s.callProxy, s.callProxy, ''));
    const floorLabel = `minimal authorising hop (bench/mcp/minimal-hop.ts: parse, look up, forward, parse, answer${floor ? '' : "; inside the gateway's process"})`;
    console.log(row(`tools/call, ${floorLabel}`, s.callFloor, s.callProxy, ''));
    console.log(
      row('tools/call, gateway', s.callGateway, s.callProxy, `p50 ≤ 1.25×: ${met(s.callGateway.p50 / s.callProxy.p50 <= 1.25)}; throughput ≥ 0.8×: ${met(s.callGateway.perSec / s.callProxy.perSec >= 0.8)}`),
    );
    console.log(row(`tools/list, bare reverse proxy (the upstream's ${TOOLS + 1} tools)`, s.listProxy, s.listProxy, ''));
    console.log(row(`tools/list, gateway (all users: ${(listed.all[0]! / listed.all[1]!).toFixed(0)} tools on average)`, s.listGateway, s.listProxy, ''));
    console.log(row(`tools/list, gateway ("platform" users: ${(listed.platform[0]! / listed.platform[1]!).toFixed(0)} tools)`, s.listPlatform, s.listProxy, `p99 < 20 ms: ${met(s.listPlatform.p99 < 20)}`));
    console.log(
      `| tools/list, gateway, mixed into tools/call (one request in ${LIST_EVERY}; "platform" users: ${(listed.mixed[0]! / Math.max(1, listed.mixed[1]!)).toFixed(0)} tools; ${mixedLists.length} lists) | ${pct(mixedLists, 50).toFixed(2)} ms | ${pct(mixedLists, 99).toFixed(2)} ms | | | | | | | | p99 < 20 ms: ${met(pct(mixedLists, 99) < 20)} |`,
    );
    if (OPEN_REQUESTS > 0) printOpenLoop(open, { rate, capacity, tools: listed.open[0]! / Math.max(1, listed.open[1]!) });
    console.log('\nGateway caches during the timed requests (replayed over the requests sent; bounds as configured)');
    console.log('| cache | bound | hit rate |');
    console.log('|---|---:|---:|');
    console.log(`| verified access tokens | ${TOKEN_BOUND} | ${(tokenCache.rate * 100).toFixed(1)} % |`);
    console.log(`| verified session ids | ${SESSION_BOUND} | ${(sessionCache.rate * 100).toFixed(1)} % |`);
    console.log(`| callable tools per user (reloaded after ${TOOLS_MAX_AGE_MS / 1000} s) | ${TOOLS_BOUND} | ${(toolsCache.rate * 100).toFixed(1)} % |`);
    console.log(`\nGateway RSS: ${rssAfterSeed.toFixed(0)} MB after every user's initialize, ${rssAfterRun.toFixed(0)} MB after the timed requests.`);
    console.log(
      `Gateway garbage collection during its tools/call phases: ${((gatewayGc.major / gatewayGc.calls) * 1000).toFixed(2)} full collections per 1,000 calls, ` +
        `${(gatewayGc.pauseUs / gatewayGc.calls).toFixed(1)} µs of GC pause per call (main thread; V8's concurrent marking on its worker threads is in the CPU column).`,
    );
    const selfLine = (label: string, xs: DriverSelf[]) => {
      if (xs.length === 0) return;
      console.log(
        `Load generator (its own process, client: ${benchClient()}), ${label}: ${xs.reduce((a, x) => a + x.gcPauses, 0)} GC pauses, ${xs.reduce((a, x) => a + x.gcMs, 0).toFixed(0)} ms in all, ` +
          `longest ${Math.max(...xs.map((x) => x.gcMaxMs)).toFixed(1)} ms; event-loop delay p99 ${Math.max(...xs.map((x) => x.loopDelayP99Ms)).toFixed(1)} ms (worst phase), max ${Math.max(...xs.map((x) => x.loopDelayMaxMs)).toFixed(1)} ms.`,
      );
    };
    selfLine('closed-loop phases', driverSelf.closed);
    selfLine('open-loop phases', driverSelf.open);
  } finally {
    await Promise.all([stop(gateway.child), stop(bare.child), floor && stop(floor.child), stop(upstream.child), driverChild && stop(driverChild)]);
    await pool.end();
    await closeServices(services);
    await gateway.db.drop();
  }
}

/** The open-loop table: per request type and path, latency from the due time (p50 / p99 / p99.9 / max), uncorrected p99, lateness, errors. */
function printOpenLoop(open: Record<'proxy' | 'gateway', { r: OpenReport['r']; isList: (i: number) => boolean; hopCpuUs: number }[]>, o: { rate: number; capacity: number; tools: number }) {
  const pick = (via: 'proxy' | 'gateway', list: boolean) => {
    const all = open[via].map((x) => latencies(x.r, (i) => x.isList(i) === list));
    const cat = (k: 'corrected' | 'uncorrected' | 'lag') => all.flatMap((l) => l[k]).sort((a, b) => a - b);
    return { corrected: cat('corrected'), uncorrected: cat('uncorrected'), lag: cat('lag') };
  };
  const sent = (via: 'proxy' | 'gateway') => open[via].reduce((a, x) => a + x.r.due.length, 0);
  // n requests span n − 1 intervals of the schedule: the rate the load generator actually sent at, mean over rounds.
  const achieved = (via: 'proxy' | 'gateway') => open[via].reduce((a, x) => a + ((x.r.sent.length - 1) * 1000) / (x.r.sent.at(-1)! - x.r.start), 0) / open[via].length;
  const errors = (via: 'proxy' | 'gateway') => open[via].flatMap((x) => x.r.errors);
  console.log(
    `\nOpen loop (latency objective practice: bench/open-loop.ts): the same mix (one request in ${LIST_EVERY} a "platform" user's list) offered at **${o.rate.toFixed(0)} requests/s**, ` +
      `${(OPEN_UTILISATION * 100).toFixed(0)} % of the bare proxy's closed-loop capacity for this mix in this run (${o.capacity.toFixed(0)}/s), the same rate and requests for both paths, ` +
      `${ROUNDS} rounds × ${OPEN_REQUESTS} requests per path; latency from each request's due time (coordinated omission corrected), nearest-rank percentiles`,
  );
  console.log('| request, path | answered | p50 | p99 | p99.9 | max | p99 from the actual send (uncorrected) | p50 / p99 ÷ bare proxy | goal |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : `${x.toFixed(2)} ms`);
  const row = (label: string, via: 'proxy' | 'gateway', list: boolean, goal: (p99: number) => string) => {
    const l = pick(via, list).corrected;
    const base = pick('proxy', list).corrected;
    const p999 = l.length >= samplesFor(0.999) ? ms(quantile(l, 0.999)) : `(${l.length} samples: max)`;
    const ratio = via === 'proxy' ? '' : `${(quantile(l, 0.5) / quantile(base, 0.5)).toFixed(2)}× / ${(quantile(l, 0.99) / quantile(base, 0.99)).toFixed(2)}×`;
    console.log(`| ${label} | ${l.length} | ${ms(quantile(l, 0.5))} | ${ms(quantile(l, 0.99))} | ${p999} | ${ms(l.at(-1)!)} | ${ms(quantile(pick(via, list).uncorrected, 0.99))} | ${ratio} | ${goal(quantile(l, 0.99))} |`);
  };
  row('tools/call, bare reverse proxy', 'proxy', false, () => '');
  row('tools/call, gateway', 'gateway', false, () => '');
  row(`tools/list, bare reverse proxy (the upstream's ${TOOLS + 1} tools)`, 'proxy', true, () => '');
  row(`tools/list, gateway ("platform" users: ${o.tools.toFixed(0)} tools)`, 'gateway', true, (p99) => `p99 < 20 ms: ${p99 < 20 ? 'met' : '**not met**'}`);
  console.log(`| path | sent | rate sent at | sent > ${LATE_MS} ms behind schedule | lateness p99 / max | errors | CPU per request of the hop |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const via of ['proxy', 'gateway'] as const) {
    const lag = [...pick(via, false).lag, ...pick(via, true).lag].sort((a, b) => a - b);
    const late = lag.filter((x) => x > LATE_MS).length;
    const cpu = open[via].reduce((a, x) => a + x.hopCpuUs, 0) / open[via].length;
    console.log(`| ${via === 'proxy' ? 'bare reverse proxy' : 'gateway'} | ${sent(via)} | ${achieved(via).toFixed(0)}/s | ${late} (${((late / lag.length) * 100).toFixed(2)} %) | ${ms(quantile(lag, 0.99))} / ${ms(lag.at(-1)!)} | ${errors(via).length} | ${cpu.toFixed(0)} µs |`);
  }
  for (const e of [...errors('proxy'), ...errors('gateway')].slice(0, 3)) console.log(`  error: ${String(e.error).slice(0, 200)}`);
}

if (process.argv[1]?.endsWith('mcp-population.ts')) await main(process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
