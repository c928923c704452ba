// MCP gateway benchmark (`npm run bench mcp`): the same upstream tool called three ways in one run — directly, through
// a bare reverse proxy (no logic: the floor of one extra hop), and through the gateway (bearer check, permission
// decision (per-node cache dropped by bus events), audit event, pooled upstream session) — plus the bearer check cost.
// Goals (issue #5): gateway p50 ≤ 1.25× the bare proxy's, throughput ≥ 0.8× of it; bearer check ≤ 50 µs when cached.
// "CPU per call" is process.cpuUsage() of the whole bench process per call; the gateway row minus the bare-proxy row is
// the gateway's own CPU, a steadier measure than latency on a shared machine.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import pg from 'pg';
import pino from 'pino';
import { z } from 'zod';
import { loadConfig } from '../src/config/config.js';
import { startServer } from '../src/http/start-server.js';
import { mcpResourceUrl } from '../src/mcp/mcp-resource.js';
import { createServices } from '../src/services.js';
import { findTenantBySlug } from '../src/tenants/find-tenant.js';
import { createTenant } from '../src/tenants/manage-tenants.js';
import { addUpstream } from '../src/tools/manage-upstreams.js';
import { approveTool } from '../src/tools/approve-tools.js';
import { createUser, obtainTokens } from '../test/oauth/support/oauth-client.js';
import { freePort, testMasterKey } from '../test/support/test-app.js';

const CALLS = Number(process.env.BENCH_MCP_CALLS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_MCP_CONCURRENCY ?? 8);
const VERIFIES = Number(process.env.BENCH_MCP_VERIFIES ?? 20000);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A stateful upstream MCP server (the SDK's McpServer) with one `echo` tool. */
async function startUpstream() {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const server = http.createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomBytes(12).toString('hex'),
        enableJsonResponse: true,
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      const mcp = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
      mcp.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  });
  return { url: `${await listen(server)}/mcp`, close: () => (server.closeAllConnections(), server.close()) };
}

/** The floor of one extra hop: pipes requests and responses, no parsing, no logic. */
async function startBareProxy(target: string) {
  const server = http.createServer((req, res) => {
    const forward = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  return { url: await listen(server), close: () => (server.closeAllConnections(), server.close()) };
}

async function callMany(url: string, tool: string, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  const one = async () => {
    const res = await client.callTool({ name: tool, arguments: { text: 'hello' } });
    if (res.isError) throw new Error(`${tool} failed: ${JSON.stringify(res.content)}`);
  };
  for (let i = 0; i < 200; i++) await one(); // warm-up: JIT, sockets, pooled upstream session, caches
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < CALLS) {
        const t0 = performance.now();
        await one();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  await client.close();
  latencies.sort((a, b) => a - b);
  // CPU time of this whole process (client, hop, upstream) per call: unlike latency, not inflated by other load.
  return { p50: pct(latencies, 50), p99: pct(latencies, 99), perSec: (CALLS / ms) * 1000, cpuUs: (cpu.user + cpu.system) / CALLS };
}

export async function main(databaseUrl: string): Promise<void> {
  const name = `ssob_bench_mcp_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  const u = new URL(databaseUrl);
  u.pathname = `/${name}`;
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: u.toString(),
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'sso-bench-mcp-')),
    MASTER_KEY: testMasterKey(),
    LOG_LEVEL: 'silent',
  });
  const services = await createServices(config, { logger: pino({ level: 'silent' }) });
  const server = await startServer(services, { port, host: '127.0.0.1', adminEndpoint: false });
  const upstream = await startUpstream();
  const bare = await startBareProxy(upstream.url.replace(/\/mcp$/, ''));
  try {
    await createTenant(services.db, { slug: 'bench', name: 'Bench' });
    const t = (await findTenantBySlug(services.db, 'bench'))!;
    await addUpstream(services, t, { name: 'up', url: upstream.url, headers: {} });
    await approveTool(services, t, 'up__echo', []);
    const user = await createUser(t);
    const app = { url: config.publicUrl, services } as Parameters<typeof obtainTokens>[0];
    const token = (await obtainTokens(app, t, user.id)).tokens.body.access_token!;
    const resource = mcpResourceUrl(config.publicUrl, t);

    const direct = await callMany(upstream.url, 'echo');
    const proxied = await callMany(`${bare.url}/mcp`, 'echo');
    const gateway = await callMany(resource, 'up__echo', { authorization: `Bearer ${token}` });

    // The bearer check as the endpoint runs it, after the first (uncached) verification.
    const first = performance.now();
    await services.accessTokens.verify(t, token, resource);
    const firstUs = (performance.now() - first) * 1000;
    const t0 = performance.now();
    for (let i = 0; i < VERIFIES; i++) await services.accessTokens.verify(t, token, resource);
    const cachedUs = ((performance.now() - t0) * 1000) / VERIFIES;

    const row = (label: string, r: typeof direct, goal = '') =>
      `| ${label} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.perSec.toFixed(0)}/s | ${(r.p50 / proxied.p50).toFixed(2)}× | ${(r.perSec / proxied.perSec).toFixed(2)}× | ${r.cpuUs.toFixed(0)} µs | ${goal} |`;
    console.log(`\n## MCP tools/call on PostgreSQL (${CALLS} calls at concurrency ${CONCURRENCY}, same upstream tool, MCP SDK client)`);
    console.log('| path | p50 | p99 | throughput | p50 ÷ bare proxy | throughput ÷ bare proxy | CPU per call (whole process) | goal |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---|');
    console.log(row('direct to the upstream', direct));
    console.log(row('bare reverse proxy', proxied));
    console.log(row('gateway (/t/bench/mcp)', gateway, 'p50 ≤ 1.25×, throughput ≥ 0.8×'));
    console.log(`| gateway's own CPU per call (gateway − bare proxy) | | | | | | ${(gateway.cpuUs - proxied.cpuUs).toFixed(0)} µs | |`);
    console.log(`| bearer check (verify), cached | ${cachedUs.toFixed(1)} µs per call | | | | | | ≤ 50 µs |`);
    console.log(`| bearer check (verify), after cache drop | ${firstUs.toFixed(0)} µs (one call) | | | | | | |`);
  } finally {
    bare.close();
    upstream.close();
    await services.upstreams.close();
    await server.close(1000);
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

if (process.argv[1]?.endsWith('mcp.ts')) await main(process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
