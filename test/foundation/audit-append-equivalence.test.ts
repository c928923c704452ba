import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify-chain.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { adminQuery, withDatabase } from '../support/global-setup.js';
import { testDbKinds, type TestDbKind } from '../support/databases.js';

// Migration audit_append_inline rewrote audit_append, audit_content and audit_link for speed (decision 0045). A chain
// is only worth something if every row written before and after that migration still verifies, so the same batches
// go through the old definitions, the new ones, and a database upgraded half-way, and every stored byte must agree.
const folders = readdirSync('prisma/migrations').filter((d) => /^\d/.test(d)).sort();
const rewrite = folders.findIndex((d) => d.endsWith('_audit_append_inline'));
const script = (d: string) => readFileSync(`prisma/migrations/${d}/migration.sql`, 'utf8');

let n = 0;
const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
/** A row as insertAuditRows() sends it (JSON of AuditLog.rowOf()), with deterministic ids and times. */
const row = (over: Record<string, unknown> = {}) => {
  n++;
  return { id: `evt_${String(n).padStart(5, '0')}`, actorKind: 'user', actorId: `usr_${n % 7}`, action: n % 2 ? 'mcp.tool.call' : 'oauth.token.issue',
    targetKind: 'tool', targetId: `tool_${n % 200}`, outcome: 'success', ip: '10.0.0.1', userAgent: 'claude-code/2.1.3 (node)', requestId: `req_${n}`,
    detail: { tool: 'github__search', clientId: 'cli_1', durationMs: 3.4, argumentBytes: 182, resultBytes: 4096 }, createdAt: at(n), ...over };
};
const batch = (size: number, over: (i: number) => Record<string, unknown> = () => ({})) => JSON.stringify(Array.from({ length: size }, (_, i) => row(over(i))));
const odd = [
  row({ actorId: null, targetKind: null, targetId: null, ip: null, userAgent: null, requestId: null }),
  row({ actorId: undefined, targetId: undefined, detail: undefined }), // keys left out: NULL columns, detail '{}'
  row({ actorId: 'Zoë 日本語 🎉 עברית e\u0301', targetId: '"quoted" \\ back\\slash', userAgent: 'tab\tnew\nline\u0001\u001f\u007f\u2028</script>' }),
  row({ id: 'evt_ünïcødé_🎉', detail: { 'ключ': 'значение', emoji: '👩‍💻', nested: { z: [1, 'x', null, true, { b: 1, a: 2 }] } } }),
  row({ detail: { blob: 'é'.repeat(60_000), list: Array.from({ length: 2000 }, (_, i) => ({ i, s: `ü${i}` })) } }), // toasted
  row({ detail: null }), row({ detail: 'a scalar' }), row({ detail: [1, 'two', null] }), row({ detail: 42 }), row({ detail: {} }),
  row({ createdAt: '2026-01-01T00:00:00.1235Z' }), row({ createdAt: '2026-06-30T23:59:59.9999Z' }), row({ createdAt: '1999-12-31 23:59:59' }),
  row({ createdAt: '2026-03-01T12:00:00+02:00' }), row({ actorKind: 'admin-cli', action: 'tenant.create', outcome: 'denied' }),
];
// JSON that JSON.stringify never writes: number forms jsonb normalises, a duplicate key (the last one wins).
const rawNumbers = `[{"id":"evt_numbers","actorKind":"user","action":"x","outcome":"success","createdAt":"${at(9999)}",
  "detail":{"big":123456789012345678901234567890,"small":1e-7,"neg0":-0,"trail":1.50,"exp":2E+3,"b":1,"a":2,"a":3}}]`;
const prune = (tenant: string | null, before: number, id: string) =>
  ({ prune: tenant, before: at(before).replace('Z', ''), event: JSON.stringify({ id, actorKind: 'admin-cli', action: 'audit.prune', outcome: 'success', createdAt: at(before + 1_000_000) }) });

type Step = { tenant: string | null; rows: string } | ReturnType<typeof prune> | 'upgrade';
const steps: Step[] = [
  { tenant: 't1', rows: batch(1) }, { tenant: 't1', rows: batch(13) }, { tenant: 't2', rows: batch(13) },
  { tenant: null, rows: batch(1, () => ({ actorKind: 'admin-cli', action: 'tenant.create' })) }, { tenant: 't1', rows: JSON.stringify(odd) },
  { tenant: 't2', rows: rawNumbers }, { tenant: 't1', rows: '[]' }, { tenant: 't1', rows: batch(100) },
  'upgrade',
  { tenant: 't1', rows: batch(13) }, { tenant: null, rows: JSON.stringify(odd.map((r, i) => ({ ...r, id: `${r.id}_g${i}` }))) },
  prune('t1', 60, 'evt_prune_1'), { tenant: 't1', rows: batch(500) }, { tenant: 't2', rows: batch(1) },
  prune('t2', 9000, 'evt_prune_2'), { tenant: 't2', rows: batch(13) }, prune(null, 100_000, 'evt_prune_3'), { tenant: null, rows: batch(3) },
];

interface RawDb { exec(sql: string): Promise<void>; rows(sql: string): Promise<unknown[]>; append(step: Exclude<Step, 'upgrade'>): Promise<void>; open(): Promise<Database>; close(): Promise<void> }

async function rawDb(kind: TestDbKind): Promise<RawDb> {
  let exec: (sql: string) => Promise<void>;
  let query: (sql: string, params: unknown[]) => Promise<unknown[]>;
  let open: () => Promise<Database>;
  let close: () => Promise<void>;
  if (kind === 'pglite') {
    const db = new PGlite();
    exec = async (sql) => void (await db.exec(sql));
    query = async (sql, params) => (await db.query(sql, params)).rows;
    open = async () => openDatabase({ kind: 'pglite', loadDataDir: await db.dumpDataDir('none') });
    close = () => db.close();
  } else {
    const url = process.env.TEST_DATABASE_URL!;
    const name = `ssob_eq_${process.pid}_${randomBytes(4).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE "${name}"`);
    const client = new pg.Client({ connectionString: withDatabase(url, name) });
    await client.connect();
    exec = async (sql) => void (await client.query(sql)); // one simple-protocol query per script, as migrate() sends it
    query = async (sql, params) => (await client.query(sql, params)).rows;
    open = () => openDatabase({ kind: 'postgres', url: withDatabase(url, name), poolSize: 2 });
    close = async () => {
      await client.end();
      await adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    };
  }
  return {
    exec, open, close,
    rows: (sql) => query(sql, []),
    append: async (s) => {
      if ('prune' in s) await query('SELECT * FROM audit_prune($1, $2::timestamp(3), $3::jsonb)', [s.prune, s.before, s.event]);
      else await query('SELECT 1 AS "ok" FROM (SELECT audit_append($1, $2::jsonb)) a', [s.tenant, s.rows]);
    },
  };
}

/** Everything the chain commits to and stores, every chain head, as text. */
const contents = (db: RawDb) => Promise.all([
  db.rows(`SELECT coalesce("tenantId", '-') AS chain, "seq"::text, "hash", "id", "actorKind", "actorId", "action", "targetKind", "targetId",
      "outcome", "ip", "userAgent", "requestId", "detail"::text, "createdAt"::text FROM "AuditEvent" ORDER BY 1, "seq"`),
  db.rows(`SELECT "chain", "lastSeq"::text, "lastHash", "prunedSeq"::text, "prunedHash", "prunedAt"::text FROM "AuditChain" ORDER BY 1`),
]);

describe.each(testDbKinds)('audit_append before and after migration audit_append_inline (%s)', (kind) => {
  it('writes byte-identical seq and hash values, and old and new rows verify as one chain', async () => {
    expect(rewrite).toBeGreaterThan(0);
    const dbs = { old: await rawDb(kind), fresh: await rawDb(kind), upgraded: await rawDb(kind) };
    try {
      for (const d of folders.slice(0, rewrite)) for (const db of Object.values(dbs)) await db.exec(script(d));
      for (const d of folders.slice(rewrite)) await dbs.fresh.exec(script(d));
      for (const db of Object.values(dbs)) await db.exec(`INSERT INTO "Tenant" (id, slug, name, "updatedAt") VALUES ('t1', 't1', 'T1', now()), ('t2', 't2', 'T2', now())`);
      for (const step of steps) {
        if (step === 'upgrade') {
          for (const d of folders.slice(rewrite)) await dbs.upgraded.exec(script(d));
          continue;
        }
        for (const db of Object.values(dbs)) await db.append(step);
      }
      const old = await contents(dbs.old);
      expect(old[0].length).toBeGreaterThan(600);
      expect(await contents(dbs.fresh)).toEqual(old);
      expect(await contents(dbs.upgraded)).toEqual(old);
      // Every chain (t1, t2, the tenant-less one) was pruned and appended to after its anchor.
      expect((old[1] as { prunedSeq: string }[]).map((h) => Number(h.prunedSeq) > 0)).toEqual([true, true, true]);

      const database = await dbs.upgraded.open(); // rows of both definitions, checked by the new audit_content/audit_link
      try {
        for (const slug of ['t1', 't2']) {
          const report = await verifyAuditChain((await findTenantBySlug(database.prisma, slug))!);
          expect(report).toMatchObject({ ok: true, problems: [] });
          expect(report.prunedThroughSeq).toBeGreaterThan(0);
        }
        const { rows } = await database.raw.query(`SELECT count(*)::int AS n FROM (SELECT "hash", audit_link(coalesce(lag("hash") OVER w,
            (SELECT "prunedHash" FROM "AuditChain" WHERE "chain" = '')), audit_content("seq", "id", "tenantId", "actorKind", "actorId", "action",
            "targetKind", "targetId", "outcome", "ip", "userAgent", "requestId", "detail", "createdAt")) AS expected
          FROM "AuditEvent" WHERE "tenantId" IS NULL WINDOW w AS (ORDER BY "seq")) links WHERE expected <> "hash"`);
        expect(rows[0]!.n).toBe(0);
      } finally {
        await database.close();
      }
    } finally {
      for (const db of Object.values(dbs)) await db.close();
    }
  }, 180_000);
});
