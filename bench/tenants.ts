// Many-tenants memory benchmark (`npm run bench -- tenants`): RSS of `node dist/server.js` on PostgreSQL while N
// tenants (1,000; `--quick` 100; BENCH_TENANTS_N) are touched one after another — each tenant's authorization server
// (RFC 8414 discovery, which builds its oidc-provider, and its JWKS, which creates and loads its signing keys on first
// use) and its MCP endpoint (RFC 9728 protected-resource metadata and an unauthenticated POST, answered 401 with the
// challenge). RSS is sampled after every tenth of the tenants and again after a second pass over all of them, to show
// whether it stays flat once the provider cache's bound (200, src/oauth/provider-cache.ts) is reached. Baseline in
// the same run: the same process's RSS before the first tenant is touched. The database is migrated by
// `sso-bridge migrate` before the server starts (a release step), so the node starts warm as nodes normally do.
// Goal (issue 17 §3): ≤ 300 MB, flat after the bound. Tenants are seeded with SQL; requests go 4 at a time.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { drive, startAppProcess, stop } from './support.js';

const N = Number(process.env.BENCH_TENANTS_N ?? 1000);
const CONCURRENCY = 4;

/** V8's heap (total / used, MB) from the server's own Prometheus metrics: what of the RSS is heap, and how much waits for a GC. */
async function heapMb(metricsUrl: string): Promise<string> {
  const text = await (await fetch(metricsUrl)).text();
  const mb = (name: string) => (Number(new RegExp(`^sso_bridge_${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576).toFixed(0);
  return `${mb('nodejs_heap_size_total_bytes')} / ${mb('nodejs_heap_size_used_bytes')} MB`;
}

const rssMb = (child: ChildProcess) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;

async function expectStatus(url: string, status: number, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${url}: expected ${status}, got ${res.status} ${text.slice(0, 200)}`);
  return text;
}

export async function main(databaseUrl: string): Promise<void> {
  const app = await startAppProcess(databaseUrl, 'tenants', process.env.BENCH_TENANTS_NODE_ARGS?.split(' ').filter(Boolean), { migrateFirst: true });
  const pool = new pg.Pool({ connectionString: app.db.url, max: 1 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) at the end terminates idle connections
  try {
    await app.ready;
    await pool.query(`INSERT INTO "Tenant" (id, slug, name, "updatedAt") SELECT 'ten_mem' || g, 'mem' || g, 'Mem ' || g, now() FROM generate_series(1, $1::int) g`, [N]);
    const base = app.publicUrl;
    const touch = async (i: number) => {
      const slug = `mem${i + 1}`;
      const meta = JSON.parse(await expectStatus(`${base}/.well-known/oauth-authorization-server/t/${slug}`, 200)) as { jwks_uri: string };
      await expectStatus(meta.jwks_uri, 200);
      await expectStatus(`${base}/.well-known/oauth-protected-resource/t/${slug}/mcp`, 200);
      await expectStatus(`${base}/t/${slug}/mcp`, 401, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    };
    await new Promise((r) => setTimeout(r, 1500)); // settle after start-up, as the start-up benchmark's idle RSS
    const samples: { label: string; tenants: number; rss: number; heap: string; seconds: number }[] = [{ label: 'idle, no tenant touched (baseline)', tenants: 0, rss: rssMb(app.child), heap: await heapMb(app.metricsUrl), seconds: 0 }];
    const step = Math.max(1, Math.ceil(N / 10));
    for (const pass of [1, 2]) {
      for (let from = 0; from < N; from += step) {
        const n = Math.min(step, N - from);
        const run = await drive(n, CONCURRENCY, (i) => touch(from + i));
        samples.push({ label: `pass ${pass}`, tenants: from + n, rss: rssMb(app.child), heap: await heapMb(app.metricsUrl), seconds: run.ms / 1000 });
      }
    }
    const peak = Math.max(...samples.map((s) => s.rss));
    const boundAt = samples.find((s) => s.label === 'pass 1' && s.tenants >= 200)?.rss ?? peak;
    console.log(`\n## RSS with many tenants on PostgreSQL (${N} tenants, discovery + JWKS + protected-resource metadata + unauthenticated MCP POST each, ${CONCURRENCY} at a time; ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    console.log('| sample | tenants touched | RSS | × baseline | V8 heap total / used | time for this step |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const s of samples) console.log(`| ${s.label} | ${s.tenants} | ${s.rss.toFixed(0)} MB | ${(s.rss / samples[0]!.rss).toFixed(2)}× | ${s.heap} | ${s.seconds.toFixed(1)} s |`);
    const afterBound = N >= 200 ? `growth after the provider-cache bound (first sample at ≥ 200 tenants → peak): ${(peak - boundAt).toFixed(0)} MB` : 'the provider-cache bound (200) is not reached with this N';
    console.log(`\nPeak ${peak.toFixed(0)} MB (goal ≤ 300 MB: ${peak <= 300 ? 'met' : '**not met**'}); ${afterBound}.`);
  } finally {
    await stop(app.child);
    await pool.end();
    await app.db.drop();
  }
}

if (process.argv[1]?.endsWith('tenants.ts')) await main(process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
