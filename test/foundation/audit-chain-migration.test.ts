import { readFileSync, readdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';

describe('migration audit_chain on a database that already has audit rows', () => {
  it('numbers and chains the existing rows per tenant, in time order, and later appends continue the chain', async () => {
    const db = new PGlite();
    const dirs = readdirSync('prisma/migrations').filter((d) => /^\d/.test(d)).sort();
    const at = dirs.findIndex((d) => d.endsWith('_audit_chain'));
    for (const d of dirs.slice(0, at)) await db.exec(readFileSync(`prisma/migrations/${d}/migration.sql`, 'utf8'));
    await db.exec(`INSERT INTO "Tenant" (id, slug, name, "updatedAt") VALUES ('t1', 't1', 'T1', now()), ('t2', 't2', 'T2', now());
      INSERT INTO "AuditEvent" (id, "tenantId", "actorKind", action, outcome, detail, "createdAt") VALUES
        ('e1', 't1', 'user', 'a', 'success', '{"b":1,"a":2}', '2026-01-01 00:00:01'), ('e2', 't1', 'user', 'b', 'success', '{}', '2026-01-01 00:00:03'),
        ('e3', 't2', 'user', 'c', 'success', '{}', '2026-01-01 00:00:01'), ('e4', NULL, 'admin-cli', 'tenant.create', 'success', '{}', '2026-01-01 00:00:00'),
        ('e5', 't1', 'user', 'c', 'success', '{}', '2026-01-01 00:00:02');`);
    for (const d of dirs.slice(at)) await db.exec(readFileSync(`prisma/migrations/${d}/migration.sql`, 'utf8'));
    await db.query(`SELECT audit_append('t1', '[{"id":"e6","actorKind":"user","action":"z","outcome":"success","detail":{},"createdAt":"2026-01-02T00:00:00.000Z"}]')`);

    const rows = (await db.query<{ id: string; seq: number }>(`SELECT id, seq::int AS seq FROM "AuditEvent" WHERE "tenantId" = 't1' ORDER BY seq`)).rows;
    expect(rows).toEqual([{ id: 'e1', seq: 1 }, { id: 'e5', seq: 2 }, { id: 'e2', seq: 3 }, { id: 'e6', seq: 4 }]);
    const broken = await db.query<{ n: number }>(`
      SELECT count(*)::int AS n FROM (
        SELECT "hash", audit_link(coalesce(lag("hash") OVER w, ''), audit_content("seq", "id", "tenantId", "actorKind", "actorId", "action",
          "targetKind", "targetId", "outcome", "ip", "userAgent", "requestId", "detail", "createdAt")) AS expected
        FROM "AuditEvent" WHERE "tenantId" = 't1' WINDOW w AS (ORDER BY "seq")) links WHERE expected <> "hash"`);
    expect(broken.rows[0]!.n).toBe(0);
    const heads = (await db.query<{ chain: string; lastSeq: number }>(`SELECT chain, "lastSeq"::int AS "lastSeq" FROM "AuditChain" ORDER BY chain`)).rows;
    expect(heads).toEqual([{ chain: '', lastSeq: 1 }, { chain: 't1', lastSeq: 4 }, { chain: 't2', lastSeq: 1 }]);
    await expect(db.query(`DELETE FROM "AuditEvent" WHERE id = 'e1'`)).rejects.toThrow(/append-only/);
    await db.close();
  }, 120_000);
});
