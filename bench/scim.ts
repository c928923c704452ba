// SCIM benchmark (`npm run bench scim`): user creates/s and filter latency at 100,000 users on PostgreSQL, each beside
// a bare Express + pg endpoint doing the same insert and the same indexed select (the floor without SCIM logic).
// Goals (issue #3): ≥ 1,000 creates/s and ≥ 0.5× the bare endpoint; `userName eq` / `externalId eq` p99 < 20 ms.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pg from 'pg';
import { parseFilter } from '../src/scim/filter-parse.js';
import { FilterCompiler } from '../src/scim/filter-sql.js';
import { userKind } from '../src/scim/resource-kinds.js';
import { createScimToken } from '../src/scim/scim-tokens.js';
import { findTenantBySlug } from '../src/tenants/find-tenant.js';
import { createTenant } from '../src/tenants/manage-tenants.js';
import { startBenchApp } from './support.js';

const CREATES = Number(process.env.BENCH_SCIM_CREATES ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_SCIM_CONCURRENCY ?? 16);
const USERS = Number(process.env.BENCH_SCIM_USERS ?? 100_000);
const QUERIES = Number(process.env.BENCH_SCIM_QUERIES ?? 1000);

/** Runs `n` requests with `concurrency` in flight; returns wall time and each request's latency. */
async function drive(n: number, concurrency: number, one: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { ms: performance.now() - started, latencies: latencies.sort((a, b) => a - b) };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function must(res: Response, status: number) {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`);
  return res.json() as Promise<{ totalResults?: number }>;
}

/** The floor: the same insert (with the same unique index) and the same indexed select, nothing else. */
async function startBare(pool: pg.Pool) {
  await pool.query(`CREATE TABLE bare_user (id text PRIMARY KEY, tenant_id text NOT NULL, user_name text NOT NULL,
    user_name_key text NOT NULL, external_id text, attributes jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query('CREATE UNIQUE INDEX bare_user_key ON bare_user (tenant_id, user_name_key)');
  await pool.query('CREATE INDEX bare_user_ext ON bare_user (tenant_id, external_id)');
  const app = express();
  app.use(express.json({ type: ['application/json', 'application/*+json'] }));
  app.post('/users', async (req, res) => {
    const b = req.body as { userName: string; externalId?: string };
    const id = `usr_${randomBytes(16).toString('hex')}`;
    await pool.query('INSERT INTO bare_user (id, tenant_id, user_name, user_name_key, external_id, attributes) VALUES ($1,$2,$3,$4,$5,$6)', [
      id, 'ten', b.userName, b.userName.toLowerCase(), b.externalId ?? null, JSON.stringify(b),
    ]);
    res.status(201).json({ id, ...b });
  });
  app.get('/users', async (req, res) => {
    const { userName, externalId } = req.query as Record<string, string | undefined>;
    const { rows } = userName
      ? await pool.query('SELECT * FROM bare_user WHERE tenant_id = $1 AND user_name_key = $2', ['ten', userName.toLowerCase()])
      : await pool.query('SELECT * FROM bare_user WHERE tenant_id = $1 AND external_id = $2', ['ten', externalId]);
    res.json({ totalResults: rows.length, Resources: rows });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
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
  const app = await startBenchApp(databaseUrl, 'scim');
  const { config, services } = app;
  const pool = new pg.Pool({ connectionString: app.databaseUrl, max: 10 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) at the end terminates idle connections
  const bare = await startBare(pool);
  try {
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

    const scimCreate = await drive(CREATES, CONCURRENCY, async (i) => {
      await must(await fetch(`${baseUrl}/Users`, { method: 'POST', headers, body: userBody(i, 'c') }), 201);
    });
    const bareCreate = await drive(CREATES, CONCURRENCY, async (i) => {
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
    bare.close();
    await pool.end();
    await app.close();
  }
}
