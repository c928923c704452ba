import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { AuditLog } from '../../src/audit/audit-log.js';

describe.each(testDbKinds)('audit events written with group commit (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('writes every event of concurrent calls, each row exactly as AuditLog.record would, bound to its own tenant', async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const audit = new AuditLog(app.services.db, app.services.clock, { logger: app.services.logger });
    const event = (i: number) => ({
      actor: { kind: 'user' as const, id: `usr_${i}` },
      action: 'mcp.tool.call',
      target: { kind: 'tool', id: i % 2 ? null : `tool_${i}` },
      outcome: 'success' as const,
      request: { ip: '203.0.113.7', userAgent: 'x'.repeat(600), requestId: `req_${i}` },
      detail: { tool: 'up__echo', argumentBytes: i, token: 'must-not-appear', note: "it's \"quoted\" ✓" },
    });
    await Promise.all(Array.from({ length: 40 }, (_, i) => audit.record(i < 30 ? a : b, event(i))));
    const rows = await a.db.auditEvent.findMany({ where: { action: 'mcp.tool.call' }, orderBy: { requestId: 'asc' } });
    expect(rows).toHaveLength(30);
    expect(await b.db.auditEvent.count({ where: { action: 'mcp.tool.call' } })).toBe(10);
    const row = rows.find((r) => r.requestId === 'req_4')!;
    expect(row).toMatchObject({
      tenantId: a.id,
      actorKind: 'user',
      actorId: 'usr_4',
      targetKind: 'tool',
      targetId: 'tool_4',
      outcome: 'success',
      ip: '203.0.113.7',
      detail: { tool: 'up__echo', argumentBytes: 4, token: '[redacted]', note: "it's \"quoted\" ✓" },
    });
    expect(row.userAgent).toHaveLength(512);
    expect(row.createdAt.toISOString()).toBe(app.clock.now().toISOString());
    expect(rows.find((r) => r.requestId === 'req_5')!.targetId).toBeNull();
  });

  it('rejects the promise of every event of a batch that could not be written', async () => {
    const gone = { ...(await app.createTenant()), id: 'tnt_does_not_exist' };
    const audit = new AuditLog(app.services.db, app.services.clock, { logger: app.services.logger });
    const e = { actor: { kind: 'user' as const, id: 'u' }, action: 'mcp.tool.call', outcome: 'success' as const };
    // tenantId references Tenant: a foreign-key violation fails the whole INSERT.
    const results = await Promise.allSettled([audit.record(gone, e), audit.record(gone, e)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
