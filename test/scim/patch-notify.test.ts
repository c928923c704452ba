import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, type BusSignal } from '../../src/revocation/event-bus.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { scimTenant } from './scim-client.js';

/**
 * A user PATCH sends its `user.changed` NOTIFY in the statement that writes the user (decision 0034): another node
 * hears it, this node's caches hear it once, and a write that does not happen (stale If-Match, no-op) sends nothing.
 */
describe.each(testDbKinds)('SCIM user PATCH notifies other nodes with the write (%s)', (kind) => {
  let app: TestApp;
  let other: EventBus;
  const heardThere: BusSignal[] = [];
  const heardHere: BusSignal[] = [];
  beforeAll(async () => {
    app = await startTestApp(kind);
    // A second node's bus on the same database (its own LISTEN; a different node id).
    other = new EventBus(app.services.database.raw, pino({ level: 'silent' }));
    await other.start();
    other.subscribe((e) => heardThere.push(e));
    app.services.bus.subscribe((e) => heardHere.push(e));
  });
  afterAll(async () => {
    await other?.stop();
    await app?.close();
  });

  /** Resolves when the other node has heard `n` user.changed events (NOTIFYs arrive in commit order). */
  const untilHeard = async (n: number) => {
    while (heardThere.filter((e) => e.type === 'user.changed').length < n) await new Promise((r) => setImmediate(r));
  };

  it('other nodes and this node hear user.changed once per committed PATCH; stale and no-op PATCHes send nothing', async () => {
    const s = await scimTenant(app);
    const ann = await s.createUser('ann@example.com');
    const bob = await s.createUser('bob@example.com');
    const rename = [{ op: 'replace', path: 'displayName', value: 'Ann L' }];
    expect((await s.patch(`/Users/${ann.id}`, rename)).status).toBe(200);
    await untilHeard(1);
    const stale = await s.call('PATCH', `/Users/${ann.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: rename }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect((await s.patch(`/Users/${ann.id}`, rename)).status).toBe(200); // same value: no write
    const bobPatch = await s.patch(`/Users/${bob.id}`, [{ op: 'replace', path: 'title', value: 'Eng' }]);
    expect(bobPatch.status).toBe(200);
    expect(bobPatch.body).toMatchObject({ title: 'Eng', meta: { version: 'W/"2"' } });
    await untilHeard(2);
    const changed = (list: BusSignal[]) => list.filter((e) => e.type === 'user.changed');
    const expected = [
      { type: 'user.changed', tenantId: s.t.id, userId: ann.id },
      { type: 'user.changed', tenantId: s.t.id, userId: bob.id },
    ];
    expect(changed(heardThere)).toEqual(expected);
    expect(changed(heardHere)).toEqual(expected);
  });
});
