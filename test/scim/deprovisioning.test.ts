import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusSignal } from '../../src/revocation/event-bus.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { scimTenant } from './scim-client.js';

describe.each(testDbKinds)('SCIM deprovisioning bites at once (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('PATCH active=false ends sessions and vault credentials before the response; reactivation does not resurrect them', async () => {
    const s = await scimTenant(app);
    const { sessions, vault } = app.services;
    const u = await s.createUser('leaver@example.com');
    const session = await sessions.create(s.t, { userId: u.id });
    const secretId = await vault.put(s.t, { kind: 'user-credential', id: 'github', userId: u.id }, 'gho_upstream_token');
    expect(await sessions.resolve(s.t, session.token)).not.toBeNull();

    const res = await s.patch(`/Users/${u.id}`, [{ op: 'Replace', path: 'active', value: 'False' }]);
    expect(res.status).toBe(200);
    // Immediately after the response: nothing the user held still works.
    expect(await sessions.resolve(s.t, session.token)).toBeNull();
    await expect(vault.get(s.t, secretId)).rejects.toThrow();
    expect(await s.t.db.vaultSecret.count({ where: { userId: u.id } })).toBe(0);
    const revoke = await s.t.db.auditEvent.findFirst({ where: { action: 'user.revoke', targetId: u.id } });
    expect(revoke).toMatchObject({ actorKind: 'scim-token', actorId: s.tokenId });
    expect(revoke!.detail).toMatchObject({ reason: 'scim.deactivated' });

    // Reactivation: the old session stays dead; a session begun afterwards works.
    app.clock.advance(1000);
    const back = await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: true }]);
    expect(back.body.active).toBe(true);
    expect(await sessions.resolve(s.t, session.token)).toBeNull();
    const fresh = await sessions.create(s.t, { userId: u.id });
    expect(await sessions.resolve(s.t, fresh.token)).not.toBeNull();
  });

  it('PUT with active=false and DELETE revoke too', async () => {
    const s = await scimTenant(app);
    const { sessions } = app.services;
    const a = await s.createUser('put-off@example.com');
    const sa = await sessions.create(s.t, { userId: a.id });
    expect((await s.call('PUT', `/Users/${a.id}`, { schemas: [], userName: 'put-off@example.com', active: false })).status).toBe(200);
    expect(await sessions.resolve(s.t, sa.token)).toBeNull();

    const b = await s.createUser('deleted@example.com');
    const sb = await sessions.create(s.t, { userId: b.id });
    expect((await s.call('DELETE', `/Users/${b.id}`)).status).toBe(204);
    expect(await sessions.resolve(s.t, sb.token)).toBeNull();
    const events = await s.t.db.auditEvent.findMany({ where: { action: 'user.revoke', targetId: b.id } });
    expect(events[0]!.detail).toMatchObject({ reason: 'scim.deleted' });
  });

  it('publishes one members.changed naming every user whose group membership changed, and only them', async () => {
    const s = await scimTenant(app);
    const [a, b, c] = [await s.createUser('a@x.com'), await s.createUser('b@x.com'), await s.createUser('c@x.com')];
    const g = await s.createGroup('Eng', [a.id, b.id]);
    const seen: BusSignal[] = [];
    const stop = app.services.bus.subscribe((e) => seen.push(e));
    try {
      await s.patch(`/Groups/${g.id}`, [
        { op: 'replace', value: { id: g.id, displayName: 'Eng' } },
        { op: 'remove', path: `members[value eq "${a.id}"]` },
        { op: 'add', path: 'members', value: [{ value: b.id }, { value: c.id }] },
      ]);
    } finally {
      stop();
    }
    const mine = seen.filter((e) => e.tenantId === s.t.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.type).toBe('members.changed');
    expect([...((mine[0] as { userIds: string[] }).userIds)].sort()).toEqual([a.id, c.id].sort());
    const audit = await s.t.db.auditEvent.findFirst({ where: { action: 'scim.group.patch', targetId: g.id } });
    expect(audit?.detail).toMatchObject({ membersAdded: 1, membersRemoved: 1, changed: ['members'] });
  });
});
