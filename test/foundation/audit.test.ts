import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { queryAuditEvents } from '../../src/audit/query-events.js';
import type { Database } from '../../src/db/open-database.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

describe.each(testDbKinds)('audit log (%s)', (kind) => {
  let database: Database;
  let t: TenantCtx;
  let other: TenantCtx;
  const clock = new ManualClock('2026-03-01T00:00:00Z');
  let audit: AuditLog;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await createTenant(database.prisma, { slug: 'audit-a', name: 'A' });
    await createTenant(database.prisma, { slug: 'audit-b', name: 'B' });
    t = (await findTenantBySlug(database.prisma, 'audit-a'))!;
    other = (await findTenantBySlug(database.prisma, 'audit-b'))!;
    audit = new AuditLog(database.prisma, clock, { logger: pino({ level: 'silent' }) });
    for (let i = 0; i < 7; i++) {
      clock.advance(60_000);
      await audit.record(t, {
        actor: { kind: i % 2 ? 'scim-token' : 'user', id: i % 2 ? 'stk_1' : 'usr_1' },
        action: i < 4 ? 'scim.user.create' : 'mcp.tool.call',
        target: { kind: 'user', id: `usr_${i}` },
        outcome: 'success',
        request: { ip: '192.0.2.1', userAgent: 'Okta SCIM Client 1.0.0', requestId: `req-${i}` },
        detail: { n: i },
      });
    }
    await audit.record(other, { actor: { kind: 'system' }, action: 'scim.user.create', outcome: 'success' });
  });
  afterAll(() => database?.close());

  it('returns newest first and pages with a cursor without gaps or repeats', async () => {
    const first = await queryAuditEvents(t, { limit: 3 });
    expect(first.events.map((e) => (e.detail as { n: number }).n)).toEqual([6, 5, 4]);
    const second = await queryAuditEvents(t, { limit: 3, cursor: first.nextCursor! });
    const third = await queryAuditEvents(t, { limit: 3, cursor: second.nextCursor! });
    expect([...second.events, ...third.events].map((e) => (e.detail as { n: number }).n)).toEqual([3, 2, 1, 0]);
    expect(third.nextCursor).toBeNull();
  });

  it("gives events time-ordered ids: each carries its event's time, and sorted as text they follow the chain", async () => {
    const rows = await t.db.auditEvent.findMany({ orderBy: { seq: 'asc' }, select: { id: true, seq: true, createdAt: true } });
    expect(rows.length).toBeGreaterThanOrEqual(7);
    expect(rows.map((r) => r.id).sort()).toEqual(rows.map((r) => r.id));
    const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
    // The first nine characters after `evt_` are the top 45 of the id's 48 time bits (src/lib/ids.ts).
    const top45 = (id: string) => [...id.slice(4, 13)].reduce((v, c) => v * 32 + alphabet.indexOf(c), 0);
    for (const r of rows) expect(top45(r.id)).toBe(Math.floor(r.createdAt.getTime() / 8));
  });

  it('filters by action (exact or prefix), actor and time range', async () => {
    expect((await queryAuditEvents(t, { action: 'mcp.tool.call' })).events).toHaveLength(3);
    expect((await queryAuditEvents(t, { action: 'scim.*' })).events).toHaveLength(4);
    expect((await queryAuditEvents(t, { actorId: 'stk_1' })).events).toHaveLength(3);
    const range = await queryAuditEvents(t, { from: '2026-03-01T00:02:00Z', to: '2026-03-01T00:04:00Z' });
    expect(range.events.map((e) => (e.detail as { n: number }).n)).toEqual([2, 1]);
  });

  it("never shows another tenant's events", async () => {
    const all = await queryAuditEvents(t, { limit: 500 });
    expect(all.events.every((e) => e.tenantId === t.id)).toBe(true);
    expect((await queryAuditEvents(other, {})).events).toHaveLength(1);
  });

  it('records request facts and drops secret-looking detail keys', async () => {
    const id = await audit.record(t, {
      actor: { kind: 'system' },
      action: 'test.redaction',
      outcome: 'failure',
      detail: { password: 'hunter2', nested: { client_secret: 'abc', ok: 'yes' }, long: 'x'.repeat(2000) },
    });
    const row = await t.db.auditEvent.findUniqueOrThrow({ where: { id } });
    expect(JSON.stringify(row.detail)).not.toMatch(/hunter2|abc/);
    expect(row.detail).toMatchObject({ password: '[redacted]', nested: { client_secret: '[redacted]', ok: 'yes' } });
    expect(((row.detail as { long: string }).long).length).toBeLessThan(600);
  });

  it('refuses a malformed cursor as a client error', async () => {
    await expect(queryAuditEvents(t, { cursor: 'not-a-cursor' })).rejects.toThrow(/invalid cursor/);
  });
});
