import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, type AuditInput } from '../../src/audit/audit-log.js';
import { pruneAuditLog } from '../../src/audit/prune-audit.js';
import { verifyAuditChain } from '../../src/audit/verify-chain.js';
import type { Database } from '../../src/db/open-database.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

const event = (n: number): AuditInput => ({
  actor: { kind: 'user', id: `usr_${n}` },
  action: n % 2 ? 'scim.user.create' : 'mcp.tool.call',
  target: { kind: 'user', id: `usr_${n}` },
  outcome: 'success',
  detail: { n, nested: { b: 1, a: [1, 'x'] } },
});

describe.each(testDbKinds)('audit hash chain and append-only table (%s)', (kind) => {
  let database: Database;
  const clock = new ManualClock('2026-03-01T00:00:00Z');
  let audit: AuditLog;
  let n = 0;
  const sql = (text: string, params: unknown[] = []) => database.raw.query(text, params);
  /** A tenant with `count` events one minute apart, written in several batches (awaited and background). */
  const tenantWithEvents = async (count: number): Promise<TenantCtx> => {
    const slug = `chain-${kind}-${n++}`;
    await createTenant(database.prisma, { slug, name: slug });
    const t = (await findTenantBySlug(database.prisma, slug))!;
    for (let i = 0; i < count; i++) {
      clock.advance(60_000);
      if (i % 3 === 2) await audit.record(t, event(i));
      else void audit.recordInBackground(t, event(i));
    }
    await audit.flush();
    return t;
  };
  /** What a superuser can do: switch the trigger off, tamper, switch it on again. */
  const tamper = async (statement: string, params: unknown[]) => {
    await sql('ALTER TABLE "AuditEvent" DISABLE TRIGGER "AuditEvent_append_only"');
    try {
      await sql(statement, params);
    } finally {
      await sql('ALTER TABLE "AuditEvent" ENABLE TRIGGER "AuditEvent_append_only"');
    }
  };
  const idAt = async (t: TenantCtx, seq: number) => (await t.db.auditEvent.findFirstOrThrow({ where: { seq } })).id;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    audit = new AuditLog(database.prisma, clock, { logger: pino({ level: 'silent' }) });
  });
  afterAll(() => database?.close());

  it('numbers each tenant’s rows 1, 2, 3… and verifies an untouched chain', async () => {
    const t = await tenantWithEvents(12);
    const other = await tenantWithEvents(3);
    const rows = await t.db.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    expect(rows.map((r) => Number(r.seq))).toEqual([...Array(12).keys()].map((i) => i + 1));
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash))).toBe(true);
    const report = await verifyAuditChain(t);
    expect(report).toMatchObject({ ok: true, rows: 12, firstSeq: 1, lastSeq: 12, headHash: rows[11]!.hash, problems: [] });
    expect(await verifyAuditChain(other)).toMatchObject({ ok: true, rows: 3 });
  });

  it('chains concurrent batches of two writers (two nodes) into one unbroken order', async () => {
    const t = await tenantWithEvents(0);
    const nodeB = new AuditLog(database.prisma, clock, { logger: pino({ level: 'silent' }) });
    await Promise.all([...Array(40).keys()].map((i) => ((i % 2 ? audit : nodeB).record(t, event(i)))));
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 40, lastSeq: 40 });
  });

  it('refuses UPDATE, DELETE and TRUNCATE of audit rows, whoever asks', async () => {
    const t = await tenantWithEvents(2);
    const id = await idAt(t, 1);
    await expect(sql(`UPDATE "AuditEvent" SET "outcome" = 'failure' WHERE "id" = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(sql(`DELETE FROM "AuditEvent" WHERE "id" = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(sql('TRUNCATE "AuditEvent"')).rejects.toThrow(/append-only/);
    await expect(t.db.auditEvent.update({ where: { id }, data: { action: 'x' } })).rejects.toThrow();
    await expect(t.db.auditEvent.deleteMany({})).rejects.toThrow();
    // The chain head cannot be rewound, deleted or have its retention anchor moved outside audit_prune().
    await expect(sql(`UPDATE "AuditChain" SET "lastSeq" = 0 WHERE "chain" = $1`, [t.id])).rejects.toThrow(/forward/);
    await expect(sql(`UPDATE "AuditChain" SET "prunedSeq" = 1 WHERE "chain" = $1`, [t.id])).rejects.toThrow(/forward/);
    await expect(sql(`DELETE FROM "AuditChain" WHERE "chain" = $1`, [t.id])).rejects.toThrow(/forward/);
    // The retention setting alone does not open the table: only rows behind the chain's anchor may go.
    await expect(
      sql(`DO $$ BEGIN PERFORM set_config('sso_bridge.audit_prune', 'chain:${t.id}', true); DELETE FROM "AuditEvent" WHERE "id" = '${id}'; END $$`),
    ).rejects.toThrow(/append-only/);
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 2 });
  });

  it('detects a changed row', async () => {
    const t = await tenantWithEvents(6);
    await tamper(`UPDATE "AuditEvent" SET "detail" = '{"n":99}' WHERE "id" = $1`, [await idAt(t, 3)]);
    const report = await verifyAuditChain(t);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ seq: 3, problem: expect.stringMatching(/changed/) });
  });

  it('detects a changed row whose hash was recomputed (the next row no longer links to it)', async () => {
    const t = await tenantWithEvents(5);
    const id = await idAt(t, 2);
    await tamper(
      `UPDATE "AuditEvent" e SET "actorId" = 'someone-else', "hash" = audit_link(p."hash", audit_content(e."seq", e."id", e."tenantId", e."actorKind", 'someone-else',
         e."action", e."targetKind", e."targetId", e."outcome", e."ip", e."userAgent", e."requestId", e."detail", e."createdAt"))
         FROM "AuditEvent" p WHERE e."id" = $1 AND p."tenantId" = e."tenantId" AND p."seq" = 1`,
      [id],
    );
    const report = await verifyAuditChain(t);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.seq)).toEqual([3]);
  });

  it('detects a removed row, in the middle, at the start and at the end', async () => {
    for (const seq of [3, 1, 5]) {
      const t = await tenantWithEvents(5);
      await tamper(`DELETE FROM "AuditEvent" WHERE "id" = $1`, [await idAt(t, seq)]);
      const report = await verifyAuditChain(t);
      expect(report.ok, `removed seq ${seq}`).toBe(false);
      expect(report.problems.length).toBeGreaterThan(0);
    }
  });

  it('detects reordered rows (positions swapped, or timestamps swapped)', async () => {
    const t = await tenantWithEvents(4);
    const [a, b] = [await idAt(t, 2), await idAt(t, 3)];
    await tamper(`UPDATE "AuditEvent" SET "seq" = -1 WHERE "id" = $1`, [a]);
    await tamper(`UPDATE "AuditEvent" SET "seq" = 2 WHERE "id" = $1`, [b]);
    await tamper(`UPDATE "AuditEvent" SET "seq" = 3 WHERE "id" = $1`, [a]);
    expect((await verifyAuditChain(t)).ok).toBe(false);

    const u = await tenantWithEvents(4);
    await tamper(
      `UPDATE "AuditEvent" e SET "createdAt" = o."createdAt" FROM "AuditEvent" o
        WHERE e."tenantId" = $1 AND o."tenantId" = $1 AND ((e."seq" = 1 AND o."seq" = 2) OR (e."seq" = 2 AND o."seq" = 1))`,
      [u.id],
    );
    expect((await verifyAuditChain(u)).ok).toBe(false);
  });

  it("a tampered tenant does not fail another tenant's verification", async () => {
    const t = await tenantWithEvents(3);
    const other = await tenantWithEvents(3);
    await tamper(`UPDATE "AuditEvent" SET "outcome" = 'denied' WHERE "id" = $1`, [await idAt(t, 2)]);
    expect((await verifyAuditChain(t)).ok).toBe(false);
    expect((await verifyAuditChain(other)).ok).toBe(true);
  });

  it('retention deletes only a whole old prefix, records it, and the rest still verifies', async () => {
    const t = await tenantWithEvents(6);
    const other = await tenantWithEvents(2);
    // seq 7 is older than the cut-off (a node with a late clock) but comes after newer rows: it is not in the prefix.
    const now = clock.now();
    clock.set('2026-01-01T00:00:00Z');
    await audit.record(t, event(7));
    clock.set(now);
    const rows = await t.db.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    const cutoff = rows[2]!.createdAt;
    const result = await pruneAuditLog(t, cutoff, clock, { kind: 'admin-cli' });
    expect(result).toEqual({ deleted: 2, prunedThroughSeq: 2, anchorHash: rows[1]!.hash });
    const kept = await t.db.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    expect(kept.map((r) => Number(r.seq))).toEqual([3, 4, 5, 6, 7, 8]);
    expect(kept.at(-1)).toMatchObject({ action: 'audit.prune', actorKind: 'admin-cli', detail: { deleted: 2, throughSeq: 2, anchorHash: rows[1]!.hash } });
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 6, firstSeq: 3, prunedThroughSeq: 2, anchorHash: rows[1]!.hash });
    expect(await verifyAuditChain(other)).toMatchObject({ ok: true, rows: 2 });
    // Nothing older is left to prune, and later rows keep chaining.
    expect((await pruneAuditLog(t, cutoff, clock, { kind: 'admin-cli' })).deleted).toBe(0);
    await audit.record(t, event(100));
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, lastSeq: 9 });
    // Removing the first kept row is still detected after retention.
    await tamper(`DELETE FROM "AuditEvent" WHERE "id" = $1`, [kept[0]!.id]);
    expect((await verifyAuditChain(t)).ok).toBe(false);
  });

  it('detects a prefix deleted outside audit_prune() (anchor moved by hand, no audit.prune event)', async () => {
    const t = await tenantWithEvents(5);
    const third = await t.db.auditEvent.findFirstOrThrow({ where: { seq: 3 } });
    // Everything audit_prune() does except recording it: allowed by the triggers, so verify must notice.
    await sql(`DO $$ BEGIN
      PERFORM set_config('sso_bridge.audit_prune', 'chain:${t.id}', true);
      UPDATE "AuditChain" SET "prunedSeq" = 3, "prunedHash" = '${third.hash}' WHERE "chain" = '${t.id}';
      DELETE FROM "AuditEvent" WHERE "tenantId" = '${t.id}' AND "seq" <= 3;
    END $$`);
    const report = await verifyAuditChain(t);
    expect(report).toMatchObject({ ok: false, rows: 2, prunedThroughSeq: 3 });
    expect(report.problems).toEqual([{ seq: 3, id: null, problem: 'rows up to seq 3 were deleted without an audit.prune event recording it' }]);
    // A later real prune records its own anchor and moves past it (what lies behind an anchor is forgotten by design).
    clock.advance(60_000);
    expect((await pruneAuditLog(t, clock.now(), clock, { kind: 'admin-cli' })).prunedThroughSeq).toBe(5);
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, prunedThroughSeq: 5 });
  });

  it('stores client-chosen values with NUL characters (which PostgreSQL refuses) without failing the batch', async () => {
    const t = await tenantWithEvents(0);
    void audit.recordInBackground(t, { ...event(1), target: { kind: 'tool', id: 'evil\0tool' }, detail: { name: 'a\0b' } });
    await audit.record(t, event(2));
    const rows = await t.db.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    expect(rows.map((r) => r.targetId)).toEqual(['eviltool', 'usr_2']);
    expect(rows[0]!.detail).toEqual({ name: 'ab' });
  });

  it('refuses a cut-off in the future', async () => {
    const t = await tenantWithEvents(1);
    await expect(pruneAuditLog(t, new Date(clock.now().getTime() + 60_000), clock, { kind: 'admin-cli' })).rejects.toThrow(/future/);
  });

  it('chains tenant-less events too', async () => {
    await audit.record(null, { actor: { kind: 'admin-cli' }, action: 'tenant.create', outcome: 'success' });
    await audit.record(null, { actor: { kind: 'admin-cli' }, action: 'tenant.create', outcome: 'success' });
    const { rows } = await sql(`SELECT "seq" FROM "AuditEvent" WHERE "tenantId" IS NULL ORDER BY "seq"`);
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2]);
  });
});
