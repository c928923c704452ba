import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify-chain.js';
import { newId } from '../../src/lib/ids.js';
import { UserCreateBatcher } from '../../src/scim/user-create-batch.js';
import { userColumns } from '../../src/scim/user-resource.js';
import { insertScimUsers, type ScimUserInsert } from '../../src/scim/user-statements.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ERROR, USER, scimTenant } from './scim-client.js';

/** Group commit of SCIM creates (decision 0034): same-tenant creates share a statement, with per-request outcomes. */
describe.each(testDbKinds)('SCIM create group commit (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const item = (t: TenantCtx, userName: string, extra: Record<string, unknown> = {}): ScimUserInsert => {
    const doc = { userName, active: true, ...extra };
    const id = newId('usr');
    const audit = app.services.audit.rowOf({ actor: { kind: 'scim-token', id: 'stk_test' }, action: 'scim.user.create', target: { kind: 'user', id }, outcome: 'success', detail: { changed: ['userName'] } });
    return { user: { id, cols: userColumns(doc), doc, now: app.clock.now(), scimTokenId: null }, audit };
  };

  /** A batcher whose statements wait for `release()`, recording each statement's tenant and userNames. */
  const gated = () => {
    const calls: { tenantId: string; names: string[] }[] = [];
    let open!: () => void;
    let gate = new Promise<void>((r) => (open = r));
    const batcher = new UserCreateBatcher(async (t, items) => {
      calls.push({ tenantId: t.id, names: items.map((i) => i.user.cols.userName) });
      await gate;
      return insertScimUsers(t, items);
    });
    const release = () => {
      open();
      gate = Promise.resolve();
    };
    return { batcher, calls, release };
  };

  const creates = async (t: TenantCtx) =>
    t.db.auditEvent.findMany({ where: { action: 'scim.user.create' }, orderBy: { seq: 'asc' }, select: { targetId: true } });

  it('sends the creates that queue behind an in-flight statement as ONE statement; a taken or repeated userName is 409 on its own', async () => {
    const s = await scimTenant(app);
    await s.createUser('Existing@example.com');
    const { batcher, calls, release } = gated();
    const first = item(s.t, 'first@example.com');
    const queued = [
      item(s.t, 'a@example.com'),
      item(s.t, 'EXISTING@example.com'), // taken before the batch: conflicts in the statement
      item(s.t, 'Twin@example.com'),
      item(s.t, 'b@example.com'),
      item(s.t, 'twin@EXAMPLE.com'), // same key as a queued one: deferred to the next statement, then taken
    ];
    const outcomes = [first, ...queued].map((i) => batcher.create(s.t, i));
    expect(calls).toHaveLength(1); // the first went at once, alone
    release();
    expect(await Promise.all(outcomes)).toEqual(['created', 'created', 'taken', 'created', 'created', 'taken']);
    expect(calls.map((c) => c.names)).toEqual([
      ['first@example.com'],
      ['a@example.com', 'EXISTING@example.com', 'Twin@example.com', 'b@example.com'],
      ['twin@EXAMPLE.com'],
    ]);
    // Every inserted user has exactly its one audit event, in queue order, on a chain that verifies.
    const created = [first, queued[0]!, queued[2]!, queued[3]!].map((i) => i.user.id);
    expect((await creates(s.t)).map((e) => e.targetId).slice(-4)).toEqual(created);
    expect(await s.t.db.user.count({ where: { id: { in: [...created, queued[1]!.user.id, queued[4]!.user.id] } } })).toBe(4);
    expect(await verifyAuditChain(s.t)).toMatchObject({ ok: true });
  });

  it('bounds a batch and never puts two tenants in one statement', async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const calls: { tenantId: string; n: number }[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const batcher = new UserCreateBatcher(async (t, items) => {
      calls.push({ tenantId: t.id, n: items.length });
      await gate;
      return insertScimUsers(t, items);
    }, 3);
    const all = [
      batcher.create(a.t, item(a.t, 'a0@example.com')),
      batcher.create(b.t, item(b.t, 'b0@example.com')), // B does not wait for A's statement
      ...[1, 2, 3, 4].map((n) => batcher.create(a.t, item(a.t, `a${n}@example.com`))),
      batcher.create(b.t, item(b.t, 'b1@example.com')),
    ];
    expect(calls).toEqual([{ tenantId: a.t.id, n: 1 }, { tenantId: b.t.id, n: 1 }]);
    open();
    expect(new Set(await Promise.all(all))).toEqual(new Set(['created']));
    expect(calls.slice(2)).toEqual(expect.arrayContaining([{ tenantId: a.t.id, n: 3 }, { tenantId: a.t.id, n: 1 }, { tenantId: b.t.id, n: 1 }]));
    expect(calls).toHaveLength(5);
    for (const s of [a, b]) expect(await verifyAuditChain(s.t)).toMatchObject({ ok: true });
    expect(await creates(a.t)).toHaveLength(5);
    expect(await creates(b.t)).toHaveLength(2);
  });

  it('retries a failing batch one by one: only the bad create fails, nothing of it is written', async () => {
    const s = await scimTenant(app);
    const { batcher, calls, release } = gated();
    const first = batcher.create(s.t, item(s.t, 'lead@example.com'));
    const good = item(s.t, 'good@example.com');
    const bad = item(s.t, 'bad@example.com', { nickName: 'nul\u0000byte' }); // jsonb refuses \u0000
    const rest = [batcher.create(s.t, good), batcher.create(s.t, bad)];
    release();
    await expect(first).resolves.toBe('created');
    await expect(rest[0]).resolves.toBe('created');
    await expect(rest[1]).rejects.toThrow();
    expect(calls.map((c) => c.names.length)).toEqual([1, 2, 1, 1]);
    expect(await s.t.db.user.findUnique({ where: { id: bad.user.id } })).toBeNull();
    expect(await creates(s.t)).toHaveLength(2);
    expect(await verifyAuditChain(s.t)).toMatchObject({ ok: true });
  });

  it('concurrent POSTs of the same userNames in any case: one 201 each, the rest 409 uniqueness; the chain verifies', async () => {
    const s = await scimTenant(app);
    const names = Array.from({ length: 8 }, (_, i) => `user${i}@example.com`);
    const variants = names.flatMap((n) => [n, n.toUpperCase(), n.replace('user', 'User')]);
    const replies = await Promise.all(variants.map((userName) => s.call('POST', '/Users', { schemas: [USER], userName })));
    const ok = replies.filter((r) => r.status === 201);
    expect(ok).toHaveLength(8);
    expect(new Set(ok.map((r) => String(r.body.userName).toLowerCase()))).toEqual(new Set(names));
    for (const r of replies.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body).toEqual({ schemas: [ERROR], status: '409', scimType: 'uniqueness', detail: 'A user with this userName already exists' });
    }
    expect((await creates(s.t)).map((e) => e.targetId).sort()).toEqual(ok.map((r) => String(r.body.id)).sort());
    expect(await verifyAuditChain(s.t)).toMatchObject({ ok: true });
  });
});
