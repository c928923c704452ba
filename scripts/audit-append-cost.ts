/**
 * What one audit_append() costs the database per event, before and after a migration, for batches of 1, 13, 100 and
 * 500 rows shaped like the application's (tools/call and token issuance events), sent as src/audit/insert-audit-rows.ts
 * sends them (a named prepared statement with one JSON parameter, autocommit). Issue 17: measured in isolation.
 *
 *   npx tsx scripts/audit-append-cost.ts --before <migration folder> [--sizes 1,13,100,500] [--events 1300] [--rounds 5] [--detail]
 *
 * Two databases side by side: one migrated through `--before` (the old definition), one through the last migration.
 * Each round measures every size on both, in alternating order, so a change of load on a shared machine hits both;
 * the medians and minimums over the rounds are printed. PostgreSQL when AUDIT_COST_DATABASE_URL (an admin URL: the two
 * databases are created and dropped) is set, else two in-memory PGlites. Reported per event: CPU time — the backend's
 * (/proc/<pid>/schedstat, the server on this machine) or, for PGlite, this process's — wall time per call, and with
 * pg_stat_statements the statement's mean execution time; `--detail` lists the statements inside audit_append
 * (pg_stat_statements.track = all) for the last round.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const before = arg('before');
const sizes = (arg('sizes') ?? '1,13,100,500').split(',').map(Number);
const eventsPerRun = Number(arg('events') ?? 1300);
const rounds = Number(arg('rounds') ?? 5);
const adminUrl = process.env.AUDIT_COST_DATABASE_URL;
const TENANTS = 10;
const APPEND = 'SELECT 1 AS "ok" FROM (SELECT audit_append($1, $2::jsonb)) a';

const folders = readdirSync('prisma/migrations').filter((d) => /^\d/.test(d)).sort();
if (!before || !folders.includes(before)) throw new Error(`--before must name a migration folder`);

let clock = Date.parse('2026-12-06T00:00:00Z');
const id = (p: string) => `${p}_${randomBytes(13).toString('base64url').toLowerCase()}`;
/** A row as AuditLog.rowOf() builds it, JSON-encoded as insertAuditRows() sends it. */
function row(n: number) {
  const createdAt = new Date((clock += 7));
  const base = { id: id('evt'), outcome: 'success', ip: '10.1.2.3', requestId: null, createdAt };
  return n % 2
    ? { ...base, actorKind: 'user', actorId: id('usr'), action: 'mcp.tool.call', targetKind: 'tool', targetId: id('tool'),
        userAgent: 'claude-code/2.1.3 (node)', detail: { tool: `github__search_issues_${n % 200}`, clientId: id('cli'), durationMs: 3.4, argumentBytes: 182, resultBytes: 4096 } }
    : { ...base, actorKind: 'user', actorId: id('usr'), action: 'oauth.token.issue', targetKind: 'oauth-client', targetId: id('cli'),
        userAgent: 'node', detail: { grantType: 'refresh_token', resource: 'https://bridge.example.com/t/acme/mcp', scope: 'openid offline_access mcp', grantId: id('grt') } };
}

interface Conn {
  query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
  append(tenant: string, json: string): Promise<void>;
  cpuNs(): number | null;
  close(): Promise<void>;
}

async function openPostgres(url: string, migrations: string[]): Promise<Conn> {
  const name = `audcost_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  // Each script whole, as one simple query, like src/db/whole-script-adapter.ts.
  for (const d of migrations) await c.query(readFileSync(`prisma/migrations/${d}/migration.sql`, 'utf8'));
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => undefined);
  // Tracking every nested statement (or function) costs per call, and the old definition made more calls: only the
  // top-level statement unless --detail asks for the breakdown.
  await c.query(`SET pg_stat_statements.track = ${process.argv.includes('--detail') ? 'all' : 'top'}; SET track_functions = 'none'`).catch(() => undefined);
  const sched = `/proc/${Number((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p)}/schedstat`;
  return {
    query: (text) => c.query(text),
    append: async (tenant, json) => void (await c.query({ name: 'audit_append', text: APPEND, values: [tenant, json] })),
    cpuNs: () => (existsSync(sched) ? Number(readFileSync(sched, 'utf8').split(' ')[0]) : null),
    close: async () => {
      await c.end();
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

async function openPglite(migrations: string[]): Promise<Conn> {
  const db = new PGlite();
  for (const d of migrations) await db.exec(readFileSync(`prisma/migrations/${d}/migration.sql`, 'utf8'));
  return {
    query: (text) => db.query(text) as Promise<{ rows: Record<string, unknown>[] }>,
    append: async (tenant, json) => void (await db.query(APPEND, [tenant, json])),
    // PGlite runs in this process: its CPU is the process's.
    cpuNs: () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; },
    close: () => db.close(),
  };
}

const open = (migrations: string[]) => (adminUrl ? openPostgres(adminUrl, migrations) : openPglite(migrations));
const dbs = { before: await open(folders.slice(0, folders.indexOf(before) + 1)), after: await open(folders) };
const hasStatements = async (c: Conn) =>
  adminUrl ? (await c.query(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_stat_statements'`)).rows[0]!.n === 1 : false;
const statements = await hasStatements(dbs.before);
for (const c of Object.values(dbs)) {
  for (let t = 0; t < TENANTS; t++) await c.query(`INSERT INTO "Tenant" (id, slug, name, "updatedAt") VALUES ('ten_${t}', 'ten_${t}', 'ten_${t}', now())`);
  // Warm-up: plans cached, every tenant's chain head exists, the table is not empty.
  for (let i = 0; i < 40; i++) await c.append(`ten_${i % TENANTS}`, JSON.stringify(Array.from({ length: 13 }, (_, k) => row(k))));
}

interface Sample { cpu: number | null; wall: number; exec: number | null }
async function measure(c: Conn, size: number, detail: string[]): Promise<Sample> {
  const calls = Math.max(10, Math.round(eventsPerRun / size));
  const batches = Array.from({ length: calls }, () => JSON.stringify(Array.from({ length: size }, (_, k) => row(k))));
  if (statements) await c.query('SELECT pg_stat_statements_reset()');
  const cpu0 = c.cpuNs();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await c.append(`ten_${i % TENANTS}`, batches[i]!);
  const wall = ((performance.now() - t0) * 1000) / (calls * size);
  const cpu1 = c.cpuNs();
  const events = calls * size;
  let exec: number | null = null;
  if (statements) {
    const s = (await c.query(`SELECT sum(total_exec_time)::float8 AS ms FROM pg_stat_statements WHERE query LIKE 'SELECT 1 AS "ok" FROM (SELECT audit_append%' AND toplevel`)).rows[0]!;
    exec = (Number(s.ms) * 1000) / events;
    const inner = await c.query(`SELECT calls::int AS calls, total_exec_time::float8 AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) AS q
      FROM pg_stat_statements WHERE NOT toplevel ORDER BY total_exec_time DESC LIMIT 6`);
    detail.splice(0, detail.length, ...inner.rows.map((r) => `    ${((Number(r.ms) * 1000) / events).toFixed(1)} µs/event, ${String(r.calls)} calls: ${String(r.q)}`));
  }
  return { cpu: cpu0 == null || cpu1 == null ? null : (cpu1 - cpu0) / 1000 / events, wall, exec };
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`# ${adminUrl ? 'PostgreSQL' : 'PGlite'}: before = through ${before}, after = through ${folders.at(-1)}; ${rounds} rounds; loadavg ${load()}`);
const samples = new Map<string, Sample[]>();
const details = new Map<string, string[]>();
for (let r = 0; r < rounds; r++) {
  for (const size of sizes) {
    const order = (r + size) % 2 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      const key = `${size} ${which}`;
      const detail = details.get(key) ?? [];
      details.set(key, detail);
      samples.set(key, [...(samples.get(key) ?? []), await measure(dbs[which], size, detail)]);
    }
  }
}
console.log(`# loadavg at the end ${load()}`);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: (number | null)[]) => (xs.includes(null) ? '-' : `${median(xs as number[]).toFixed(1)} (min ${Math.min(...(xs as number[])).toFixed(1)})`);
console.log('batch | db | CPU µs/event median (min) | wall µs/event | statement exec µs/event');
for (const size of sizes) {
  for (const which of ['before', 'after']) {
    const s = samples.get(`${size} ${which}`)!;
    console.log(`${size} | ${which} | ${fmt(s.map((x) => x.cpu))} | ${fmt(s.map((x) => x.wall))} | ${fmt(s.map((x) => x.exec))}`);
    if (process.argv.includes('--detail')) for (const l of details.get(`${size} ${which}`)!) console.log(l);
  }
}
for (const c of Object.values(dbs)) await c.close();
