import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/open-database.js';
import { openDatabase } from '../../src/db/open-database.js';
import { newId } from '../../src/lib/ids.js';
import { EventBus, type BusSignal } from '../../src/revocation/event-bus.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(testDbKinds)('revocation hub (%s)', (kind) => {
  let app: TestApp;
  let t: TenantCtx;
  beforeAll(async () => {
    app = await startTestApp(kind);
    t = await app.createTenant();
  });
  afterAll(() => app?.close());

  const addUser = async () => {
    const id = newId('usr');
    await t.db.user.create({ data: { id, tenantId: t.id, userName: `${id}@x.example`, userNameKey: `${id}@x.example` } });
    return id;
  };

  it('ends sessions and per-user vault credentials at once, records why, and tells listeners', async () => {
    const { services: s } = app;
    const userId = await addUser();
    const bystander = await addUser();
    const session = await s.sessions.create(t, { userId });
    const other = await s.sessions.create(t, { userId: bystander });
    const credential = await s.vault.put(t, { kind: 'user-credential', id: `${userId}:up`, userId }, 'upstream-token');
    const heard: BusSignal[] = [];
    const unsubscribe = s.bus.subscribe((e) => heard.push(e));

    const result = await s.revocation.revokeUser(t, userId, 'scim.deactivated', { kind: 'scim-token', id: 'stk_x' });
    unsubscribe();

    expect(result.ended).toMatchObject({ sessions: 1, vault: 1 });
    expect(await s.sessions.resolve(t, session.token)).toBeNull();
    await expect(s.vault.get(t, credential)).rejects.toThrow(/not found/);
    expect(await s.sessions.resolve(t, other.token)).not.toBeNull();
    expect(heard).toContainEqual({ type: 'user.revoked', tenantId: t.id, userId });
    const event = await t.db.auditEvent.findFirst({ where: { action: 'user.revoke', targetId: userId } });
    expect(event).toMatchObject({ actorKind: 'scim-token', actorId: 'stk_x', outcome: 'success' });
    expect(event?.detail).toMatchObject({ reason: 'scim.deactivated' });
  });

  it('keeps sessions created before the revocation dead after reactivation (revokedBefore)', async () => {
    const { services: s } = app;
    const userId = await addUser();
    const old = await s.sessions.create(t, { userId });
    await s.revocation.revokeUser(t, userId, 'scim.deactivated');
    // A store that missed the session (e.g. written concurrently) is still covered by the user's revokedBefore.
    await t.db.session.updateMany({ where: { userId }, data: { revokedAt: null } });
    await t.db.user.update({ where: { id: userId }, data: { active: true } });
    expect(await s.sessions.resolve(t, old.token)).toBeNull();
    app.clock.advance(1000);
    const fresh = await s.sessions.create(t, { userId });
    expect(await s.sessions.resolve(t, fresh.token)).not.toBeNull();
  });

  it('refuses to register two stores under one name', () => {
    expect(() => app.services.revocation.register({ name: 'sessions', revokeUser: async () => 0 })).toThrow(/twice/);
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('event bus across nodes (PostgreSQL LISTEN/NOTIFY)', () => {
  let n1: Database;
  let n2: Database;
  beforeAll(async () => {
    const first = await openTestDatabase('postgres');
    n1 = first;
    // A second "node": its own pool and its own LISTEN connection on the same database.
    n2 = await openDatabase({ kind: 'postgres', url: first.url!, poolSize: 2 });
  });
  afterAll(async () => {
    await n2?.close();
    await n1?.close();
  });

  it('delivers an event published on one node to the other, and not back to itself twice', async () => {
    const logger = pino({ level: 'silent' });
    const a = new EventBus(n1.raw, logger);
    const b = new EventBus(n2.raw, logger);
    await a.start();
    await b.start();
    const atA: BusSignal[] = [];
    const received = new Promise<BusSignal>((resolve) => b.subscribe(resolve));
    a.subscribe((e) => atA.push(e));
    await a.publish({ type: 'user.revoked', tenantId: 'ten_1', userId: 'usr_1' });
    const event = await received;
    expect(event).toEqual({ type: 'user.revoked', tenantId: 'ten_1', userId: 'usr_1' });
    expect(atA).toHaveLength(1);
    await a.stop();
    await b.stop();
  });
});
