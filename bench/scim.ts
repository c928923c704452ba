// SCIM benchmark (`npm run bench scim`): user creates/s and filter latency at 100,000 users on PostgreSQL, each beside
// a bare Express + pg endpoint doing the same insert and the same indexed select (the floor without SCIM logic).
// Goals (issue #3): ≥ 1,000 creates/s and ≥ 0.5× the bare endpoint; `userName eq` / `externalId eq` p99 < 20 ms.
// Topology as deployed: the load generator (this process), the application (`node dist/server.js`, logging at info)
// and the bare endpoint are separate processes; "CPU per create" of each server process comes from /proc.
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { parseFilter } from '../src/scim/filter-parse.js';
import { FilterCompiler } from '../src/scim/filter-sql.js';
import { userKind } from '../src/scim/resource-kinds.js';
import { createScimToken } from '../src/scim/scim-tokens.js';
import { findTenantBySlug } from '../src/tenants/find-tenant.js';
import { createTenant } from '../src/tenants/manage-tenants.js';
import { closeServices, cpuUs, drive, pct, postgresCpuUs, startAppProcess, startProcess, stop } from './support.js';

const CREATES = Number(process.env.BENCH_SCIM_CREATES ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_SCIM_CONCURRENCY ?? 16);
const USERS = Number(process.env.BENCH_SCIM_USERS ?? 100_000);
const QUERIES = Number(process.env.BENCH_SCIM_QUERIES ?? 1000);

async function must(res: Response, status: number) {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`);
  return res.json() as Promise<{ totalResults?: number }>;
}

/** The floor's table: the same columns that matter, the same unique index and the same external-id index. */
export async function createBareTable(pool: pg.Pool) {
  await pool.query(`CREATE TABLE bare_user (id text PRIMARY KEY, tenant_id text NOT NULL, user_name text NOT NULL,
    user_name_key text NOT NULL, external_id text, attributes jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query('CREATE UNIQUE INDEX bare_user_key ON bare_user (tenant_id, user_name_key)');
  await pool.query('CREATE INDEX bare_user_ext ON bare_user (tenant_id, external_id)');
}

async function fill(pool: pg.Pool, table: 'scim' | 'bare', tenantId: string, n: number) {
  const sql =
    table === 'scim'
      ? `INSERT INTO "User" (id, "tenantId", "userName", "userNameKey", "externalId", active, attributes, "createdAt", "updatedAt")
         SELECT 'usr_fill' || g, $1, 'fill' || g || '@bench.example', 'fill' || g || '@bench.example', 'ext-' || g, true,
           jsonb_build_object('userName', 'fill' || g || '@bench.example', 'externalId', 'ext-' || g,
             'emails', jsonb_build_array(jsonb_build_object('type', 'work', 'value', 'fill' || g || '@bench.example'))),
           now(), now() FROM generate_series(1, $2::int) g`
      : `INSERT INTO bare_user (id, tenant_id, user_name, user_name_key, external_id, attributes)
         SELECT 'usr_fill' || g, 'ten', 'fill' || g || '@bench.example', 'fill' || g || '@bench.example', 'ext-' || g, '{}'
         FROM generate_series(1, $1::int) g`;
  await pool.query(sql, table === 'scim' ? [tenantId, n] : [n]);
  await pool.query(table === 'scim' ? 'ANALYZE "User"' : 'ANALYZE bare_user');
}

export async function main(databaseUrl: string): Promise<void> {
  const server = await startAppProcess(databaseUrl, 'scim', process.env.BENCH_SCIM_NODE_ARGS?.split(' ').filter(Boolean));
  const { db } = server;
  const pool = new pg.Pool({ connectionString: db.url, max: 10 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) at the end terminates idle connections
  await server.ready;
  await createBareTable(pool);
  const bareProcess = startProcess(process.execPath, ['--import', 'tsx', 'bench/scim/bare-endpoint.ts'], { DATABASE_URL: db.url });
  // This process's own services on the same database set the tenant and its token up.
  const services = await server.services();
  const config = services.config;
  try {
    const bare = { url: await bareProcess.url };
    await createTenant(services.db, { slug: 'bench', name: 'Bench' });
    const t = (await findTenantBySlug(services.db, 'bench'))!;
    const { token, baseUrl } = await createScimToken(t, config.publicUrl);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };
    const userBody = (i: number, p: string) =>
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: `${p}${i}@bench.example`,
        externalId: `${p}-ext-${i}`,
        name: { givenName: 'Bench', familyName: `User ${i}` },
        emails: [{ primary: true, type: 'work', value: `${p}${i}@bench.example` }],
        active: true,
      });

    // Warm both up (JIT, pool connections, prepared plans).
    await drive(200, CONCURRENCY, async (i) => void (await must(await fetch(`${baseUrl}/Users`, { method: 'POST', headers, body: userBody(i, 'warm') }), 201)));
    await drive(200, CONCURRENCY, async (i) => void (await must(await fetch(`${bare.url}/users`, { method: 'POST', headers, body: userBody(i, 'warm') }), 201)));

    const measured = async (child: ChildProcess, one: (i: number) => Promise<void>) => {
      const cpu0 = cpuUs(child);
      const pg0 = postgresCpuUs();
      const run = await drive(CREATES, CONCURRENCY, one);
      return { ...run, cpuUs: (cpuUs(child) - cpu0) / CREATES, pgCpuUs: Math.max(0, postgresCpuUs() - pg0) / CREATES };
    };
    const scimCreate = await measured(server.child, async (i) => {
      await must(await fetch(`${baseUrl}/Users`, { method: 'POST', headers, body: userBody(i, 'c') }), 201);
    });
    const bareCreate = await measured(bareProcess.child, async (i) => {
      await must(await fetch(`${bare.url}/users`, { method: 'POST', headers, body: userBody(i, 'c') }), 201);
    });

    const have = CREATES + 200;
    await fill(pool, 'scim', t.id, USERS - have);
    await fill(pool, 'bare', t.id, USERS - have);

    const pick = (i: number) => 1 + ((i * 7919) % (USERS - have));
    const filterRun = (kind: 'userName' | 'externalId', target: 'scim' | 'bare') =>
      drive(QUERIES, 1, async (i) => {
        const value = kind === 'userName' ? `FILL${pick(i)}@bench.example` : `ext-${pick(i)}`;
        const url =
          target === 'scim'
            ? `${baseUrl}/Users?filter=${encodeURIComponent(`${kind} eq "${value}"`)}&startIndex=1&count=100`
            : `${bare.url}/users?${kind}=${encodeURIComponent(value)}`;
        const body = await must(await fetch(url, { headers }), 200);
        if (body.totalResults !== 1) throw new Error(`${target} ${kind} eq ${value}: ${body.totalResults} results`);
      });
    const rows: [string, Awaited<ReturnType<typeof drive>>, Awaited<ReturnType<typeof drive>>][] = [];
    for (const kind of ['userName', 'externalId'] as const) rows.push([kind, await filterRun(kind, 'scim'), await filterRun(kind, 'bare')]);

    const perSec = (r: { ms: number }) => (CREATES / r.ms) * 1000;
    console.log(`\n## SCIM on PostgreSQL (${CREATES} creates at concurrency ${CONCURRENCY}; filters at ${USERS.toLocaleString('en')} users, ${QUERIES} sequential queries)`);
    console.log('| measure | SCIM | bare Express + pg | SCIM ÷ bare | goal |');
    console.log('|---|---:|---:|---:|---|');
    console.log(`| user creates/s | ${perSec(scimCreate).toFixed(0)} | ${perSec(bareCreate).toFixed(0)} | ${(perSec(scimCreate) / perSec(bareCreate)).toFixed(2)}× | ≥ 1,000/s and ≥ 0.5× |`);
    console.log(`| CPU per create: server process / PostgreSQL | ${scimCreate.cpuUs.toFixed(0)} / ${scimCreate.pgCpuUs.toFixed(0)} µs | ${bareCreate.cpuUs.toFixed(0)} / ${bareCreate.pgCpuUs.toFixed(0)} µs | | |`);
    console.log(`| create p50 / p99 | ${pct(scimCreate.latencies, 50).toFixed(1)} / ${pct(scimCreate.latencies, 99).toFixed(1)} ms | ${pct(bareCreate.latencies, 50).toFixed(1)} / ${pct(bareCreate.latencies, 99).toFixed(1)} ms | | |`);
    for (const [kind, scim, b] of rows) {
      console.log(`| \`${kind} eq\` p50 / p99 | ${pct(scim.latencies, 50).toFixed(1)} / ${pct(scim.latencies, 99).toFixed(1)} ms | ${pct(b.latencies, 50).toFixed(1)} / ${pct(b.latencies, 99).toFixed(1)} ms | ${(pct(scim.latencies, 99) / pct(b.latencies, 99)).toFixed(1)}× (p99) | p99 < 20 ms |`);
    }
    // The plan PostgreSQL picks for the compiled filters (index scans, not a scan of the tenant's users).
    for (const filter of ['userName eq "FILL77@bench.example"', 'externalId eq "ext-77"']) {
      const compiler = new FilterCompiler(userKind, t.id);
      const where = `r."tenantId" = $1 AND ${compiler.compile(parseFilter(filter))}`;
      const { rows: plan } = await pool.query(`EXPLAIN (ANALYZE, COSTS OFF) SELECT r."id" FROM "User" r WHERE ${where}`, compiler.params);
      console.log(`\n\`${filter}\` → \`${where}\`\n${plan.map((r: Record<string, string>) => `    ${r['QUERY PLAN']}`).join('\n')}`);
    }
  } finally {
    await Promise.all([stop(server.child), stop(bareProcess.child)]);
    await pool.end();
    await closeServices(services);
    await db.drop();
  }
}
