/**
 * What a window of background audit rows costs PostgreSQL when every tenant's batch is its own statement
 * (`audit_append`, decision 0007) against one statement for all of them (`audit_append_batches`, decision 0055):
 * TENANTS tenants with ROWS rows each per window, rows shaped like the gateway's tools/call events, each statement
 * sent as src/audit/insert-audit-rows.ts sends it (a named prepared statement, one JSON parameter, autocommit).
 *
 *   AUDIT_COST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx scripts/audit-window-cost.ts [--tenants 10] [--rows 1,12] [--windows 100] [--rounds 5]
 *
 * A database migrated to the last migration is created and dropped. CPU per event is the backend's on-CPU time
 * (/proc/<pid>/schedstat: protocol, the JSON parameter's parse, the function, the commit) ÷ events; the two ways
 * alternate in each round so that a change of load hits both; medians and minimums over the rounds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const TENANTS = Number(arg('tenants', '10'));
const SIZES = arg('rows', '1,12').split(',').map(Number);
const WINDOWS = Number(arg('windows', '100'));
const ROUNDS = Number(arg('rounds', '5'));
const url = process.env.AUDIT_COST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ALONE = 'SELECT 1 AS "ok" FROM (SELECT audit_append($1, $2::jsonb)) a';
const SHARED = 'SELECT 1 AS "ok" FROM (SELECT audit_append_batches($1::jsonb)) a';

let clock = Date.parse('2026-12-06T00:00:00Z');
const id = (p: string) => `${p}_${randomBytes(13).toString('base64url').toLowerCase()}`;
/** A tools/call event as AuditLog.rowOf() builds it. */
const row = (n: number) => ({
  id: id('evt'), actorKind: 'user', actorId: id('usr'), action: 'mcp.tool.call', targetKind: 'tool', targetId: id('tool'), outcome: 'success',
  ip: '10.1.2.3', userAgent: 'claude-code/2.1.3 (node)', requestId: null, createdAt: new Date((clock += 7)).toISOString(),
  detail: { tool: `github__search_issues_${n % 200}`, clientId: id('cli'), durationMs: 3.4, argumentBytes: 182, resultBytes: 4096 },
});

const name = `audwin_${process.pid}_${randomBytes(3).toString('hex')}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
const target = new URL(url);
target.pathname = `/${name}`;
const c = new pg.Client({ connectionString: target.toString() });
await c.connect();
try {
  // Each script whole, as one simple query, like src/db/whole-script-adapter.ts.
  for (const d of readdirSync('prisma/migrations').filter((x) => /^\d/.test(x)).sort()) await c.query(readFileSync(`prisma/migrations/${d}/migration.sql`, 'utf8'));
  const sched = `/proc/${Number((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p)}/schedstat`;
  const cpuNs = () => Number(readFileSync(sched, 'utf8').split(' ')[0]);
  const tenants = Array.from({ length: TENANTS }, (_, t) => `ten_${t}`);
  for (const t of tenants) await c.query(`INSERT INTO "Tenant" (id, slug, name, "updatedAt") VALUES ('${t}', '${t}', '${t}', now())`);
  // Warm-up: both plans cached, every chain head exists.
  for (const t of tenants) await c.query({ name: 'alone', text: ALONE, values: [t, JSON.stringify([row(0)])] });
  await c.query({ name: 'shared', text: SHARED, values: [JSON.stringify(tenants.map((tenant) => ({ tenant, rows: [row(0)] })))] });

  const samples = new Map<string, number[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const size of SIZES) {
      for (const way of r % 2 ? ['alone', 'shared'] : ['shared', 'alone']) {
        const windows = Array.from({ length: WINDOWS }, () => tenants.map((tenant) => ({ tenant, rows: Array.from({ length: size }, (_, i) => row(i)) })));
        const before = cpuNs();
        for (const w of windows) {
          if (way === 'shared') await c.query({ name: 'shared', text: SHARED, values: [JSON.stringify(w)] });
          else for (const b of w) await c.query({ name: 'alone', text: ALONE, values: [b.tenant, JSON.stringify(b.rows)] });
        }
        const key = `${size} ${way}`;
        samples.set(key, [...(samples.get(key) ?? []), (cpuNs() - before) / 1000 / (WINDOWS * TENANTS * size)]);
      }
    }
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`# ${TENANTS} tenants, ${WINDOWS} windows × ${ROUNDS} rounds; loadavg at the end ${load}`);
  console.log('| rows per tenant per window | statements per window | PostgreSQL CPU µs per event, median (min) |');
  console.log('|---:|---|---:|');
  for (const size of SIZES) {
    for (const way of ['alone', 'shared']) {
      const xs = samples.get(`${size} ${way}`)!.sort((a, b) => a - b);
      console.log(`| ${size} | ${way === 'alone' ? `${TENANTS} (audit_append each)` : '1 (audit_append_batches)'} | ${xs[Math.floor(xs.length / 2)]!.toFixed(1)} (${xs[0]!.toFixed(1)}) |`);
    }
  }
} finally {
  await c.end();
  await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  await admin.end();
}
