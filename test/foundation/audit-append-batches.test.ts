import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify-chain.js';
import type { Database } from '../../src/db/open-database.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

// audit_append_batches() (decision 0055) writes several tenants' batches in one statement. Each batch must land in its
// own chain exactly as audit_append() alone would write it, and chain heads must be locked in one order whatever the
// order of the batches, so that two nodes' statements over the same tenants never deadlock.
let n = 0;
const row = (over: Record<string, unknown> = {}) => {
  n++;
  return { id: `evt_${String(n).padStart(5, '0')}`, actorKind: 'user', actorId: `usr_${n % 7}`, action: 'mcp.tool.call', targetKind: 'tool', targetId: `tool_${n % 9}`,
    outcome: 'success', ip: '10.0.0.1', userAgent: 'claude-code/2.1.3 (node)', requestId: `req_${n}`, detail: { tool: 'up__echo', note: 'é 🎉 "q"' },
    createdAt: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), ...over };
};
const rows = (size: number) => Array.from({ length: size }, () => row());
type Batch = { tenant: string | null; rows: ReturnType<typeof row>[] };

/** Windows of batches as the gateway would send them: tenants in any order, a tenant twice, the tenant-less chain, an empty batch. */
const windows = (): Batch[][] => [
  [{ tenant: 't2', rows: rows(3) }, { tenant: 't1', rows: rows(1) }],
  [{ tenant: 't3', rows: rows(13) }, { tenant: null, rows: rows(2) }, { tenant: 't1', rows: rows(5) }, { tenant: 't2', rows: [] }],
  [{ tenant: 't1', rows: rows(2) }, { tenant: 't2', rows: rows(40) }, { tenant: 't1', rows: rows(3) }, { tenant: 't3', rows: [row({ detail: null, actorId: null })] }],
];

const contents = async (db: Database) => (await db.raw.query(`SELECT coalesce("tenantId", '-') AS chain, "seq"::int AS "seq", "hash", "id", "actorId", "requestId",
    "detail"::text, "createdAt"::text FROM "AuditEvent" ORDER BY 1, "seq"`)).rows;

describe.each(testDbKinds)('audit_append_batches: several tenants’ batches in one statement (%s)', (kind) => {
  const dbs: Database[] = [];
  const open = async () => {
    const db = await openTestDatabase(kind);
    dbs.push(db);
    await db.raw.query(`INSERT INTO "Tenant" (id, slug, name, "updatedAt") VALUES ('t1', 't1', 'T1', now()), ('t2', 't2', 'T2', now()), ('t3', 't3', 'T3', now())`);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.close();
  });

  it('appends each batch to its own chain exactly as audit_append alone would (same seq, hash and columns)', async () => {
    const [alone, shared] = [await open(), await open()];
    for (const w of windows()) {
      for (const b of w) await alone.raw.query('SELECT 1 AS "ok" FROM (SELECT audit_append($1, $2::jsonb)) a', [b.tenant, JSON.stringify(b.rows)]);
      await shared.raw.query('SELECT 1 AS "ok" FROM (SELECT audit_append_batches($1::jsonb)) a', [JSON.stringify(w)]);
    }
    const expected = await contents(alone);
    expect(expected).toHaveLength(70);
    expect(await contents(shared)).toEqual(expected);
    // Two batches of one tenant in one statement: in the order given (seq follows the rows' order).
    const t1 = expected.filter((r) => r.chain === 't1').map((r) => r.requestId);
    expect(t1).toEqual([...t1].sort((a, b) => Number(String(a).slice(4)) - Number(String(b).slice(4))));
    for (const slug of ['t1', 't2', 't3']) expect(await verifyAuditChain((await findTenantBySlug(shared.prisma, slug))!)).toMatchObject({ ok: true, problems: [] });
  });

  it('writes nothing when one batch cannot be written: all batches commit together or none does', async () => {
    const db = await open();
    const w = [{ tenant: 't1', rows: rows(2) }, { tenant: 'tnt_missing', rows: rows(1) }, { tenant: 't2', rows: rows(2) }];
    await expect(db.raw.query('SELECT 1 AS "ok" FROM (SELECT audit_append_batches($1::jsonb)) a', [JSON.stringify(w)])).rejects.toThrow(/foreign key/);
    expect(await contents(db)).toEqual([]);
  });

  it.runIf(kind === 'postgres')('locks chain heads in chain order whatever the order of the batches (no deadlock between nodes)', async () => {
    const db = await open();
    const url = (db as Database & { url: string }).url;
    const [holder, writer, probe] = [new pg.Client(url), new pg.Client(url), new pg.Client(url)];
    await Promise.all([holder.connect(), writer.connect(), probe.connect()]);
    try {
      await db.raw.query(`SELECT audit_append(t, '[]'::jsonb) FROM unnest(ARRAY['t1', 't2']) t`); // both chain heads exist
      // Another writer holds t2's head; a statement given t2's batch FIRST still takes t1's head before waiting for t2.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "AuditChain" WHERE "chain" = 't2' FOR UPDATE`);
      const writerPid = Number((await writer.query('SELECT pg_backend_pid() AS p')).rows[0].p);
      const written = writer.query('SELECT 1 AS "ok" FROM (SELECT audit_append_batches($1::jsonb)) a', [JSON.stringify([{ tenant: 't2', rows: rows(1) }, { tenant: 't1', rows: rows(1) }])]);
      const waiting = async () => (await probe.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [writerPid])).rows[0]?.wait_event_type === 'Lock';
      while (!(await waiting())) await new Promise((resolve) => setImmediate(resolve));
      // Given order would have locked t2 first and left t1 free; chain order holds t1 while it waits for t2.
      await expect(probe.query(`SELECT 1 FROM "AuditChain" WHERE "chain" = 't1' FOR UPDATE NOWAIT`)).rejects.toThrow(/could not obtain lock/);
      await holder.query('COMMIT');
      await written;
      expect((await contents(db)).map((r) => r.chain)).toEqual(['t1', 't2']);
    } finally {
      await Promise.all([holder.end(), writer.end(), probe.end()]);
    }
  });
});
