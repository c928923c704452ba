import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { resourceSubscriptions } from '../../src/tools/resource-subscriptions.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, connect, createUser, useFakeVerifier, type FakeVerifier } from './support.js';
import { asPerUserUpstream, startSubscribingUpstream, type SubscribingUpstream } from './subscribing-upstream.js';

/** A client of the gateway that records the resource updates and log messages it receives. */
async function watcher(app: TestApp, t: TenantCtx, token: string) {
  const { client } = await connect(app, t, token);
  const updates: string[] = [];
  const logs: string[] = [];
  let listChanged = 0;
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.level)));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
  return { client, updates, logs, listChanged: () => listChanged };
}

/**
 * The client's GET stream (opened by the SDK client after initialize) is listening once it hears a bus event: a
 * `tools.changed` announced until it arrives. Waits for a condition, never for a fixed time.
 */
async function streamOpen(app: TestApp, t: TenantCtx, w: Awaited<ReturnType<typeof watcher>>) {
  const before = w.listChanged();
  await vi.waitFor(
    async () => {
      await app.services.bus.publish({ type: 'tools.changed', tenantId: t.id });
      expect(w.listChanged()).toBeGreaterThan(before);
    },
    { timeout: 20_000, interval: 50 },
  );
}

describe.each(testDbKinds)('MCP resource subscriptions and logging/setLevel through the gateway (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: SubscribingUpstream;
  beforeAll(async () => {
    app = await startTestApp(kind);
    fake = useFakeVerifier(app);
    upstream = await startSubscribingUpstream();
  }, 60_000);
  afterAll(async () => {
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
  });

  async function tenantWithUpstream() {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'up', everyone: true });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__chatty' });
    return t;
  }

  it('static upstream: updates reach exactly the sessions that subscribed; one user unsubscribing keeps the other subscribed', { timeout: 120_000 }, async () => {
    const t = await tenantWithUpstream();
    const a = await watcher(app, t, fake.issue(t, await createUser(t, 'a@example.com')));
    const b = await watcher(app, t, fake.issue(t, await createUser(t, 'b@example.com')));
    await streamOpen(app, t, a);
    await streamOpen(app, t, b);
    await a.client.subscribeResource({ uri: 'up+note://a' });
    await b.client.subscribeResource({ uri: 'up+note://a' });
    await b.client.subscribeResource({ uri: 'up+note://b' });

    await upstream.touch('note://b');
    await upstream.touch('note://a');
    await vi.waitFor(() => expect(a.updates).toEqual(['up+note://a']), { timeout: 10_000 });
    await vi.waitFor(() => expect(b.updates).toEqual(['up+note://b', 'up+note://a']), { timeout: 10_000 });

    // A leaves: the shared upstream session stays subscribed for B (nothing was unsubscribed upstream).
    const unsubscribesBefore = upstream.log.filter((l) => l.startsWith('unsubscribe note://a')).length;
    await a.client.unsubscribeResource({ uri: 'up+note://a' });
    await upstream.touch('note://a');
    await vi.waitFor(() => expect(b.updates).toEqual(['up+note://b', 'up+note://a', 'up+note://a']), { timeout: 10_000 });
    expect(upstream.log.filter((l) => l.startsWith('unsubscribe note://a')).length).toBe(unsubscribesBefore);
    // B leaves too: now the upstream is unsubscribed.
    await b.client.unsubscribeResource({ uri: 'up+note://a' });
    await vi.waitFor(() => expect(upstream.log.filter((l) => l.startsWith('unsubscribe note://a')).length).toBe(unsubscribesBefore + 1), { timeout: 10_000 });
    // B's other subscription goes on; A never heard anything it did not subscribe to.
    await upstream.touch('note://b');
    await vi.waitFor(() => expect(b.updates.at(-1)).toBe('up+note://b'), { timeout: 10_000 });
    expect(a.updates).toEqual(['up+note://a']);
    await a.client.close();
    await b.client.close();
  });

  it('an update reaches a subscriber only while they may still use the content: one who left the granted group is dropped', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__chatty' });
    const [aId, bId] = [await createUser(t, 'left@example.com'), await createUser(t, 'stays@example.com')];
    await t.db.group.create({ data: { id: 'grp_readers', tenantId: t.id, displayName: 'Readers', displayNameKey: 'readers', source: 'manual' } });
    await t.db.groupMembership.createMany({ data: [aId, bId].map((userId) => ({ tenantId: t.id, groupId: 'grp_readers', userId })) });
    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'up', group: ['Readers'] });
    const a = await watcher(app, t, fake.issue(t, aId));
    const b = await watcher(app, t, fake.issue(t, bId));
    await streamOpen(app, t, a);
    await streamOpen(app, t, b);
    await a.client.subscribeResource({ uri: 'up+note://q' });
    await b.client.subscribeResource({ uri: 'up+note://q' });
    const held = resourceSubscriptions(app.services).size;
    // A leaves the group the content was approved for.
    await t.db.groupMembership.deleteMany({ where: { userId: aId } });
    await app.services.bus.publish({ type: 'members.changed', tenantId: t.id, userIds: [aId] });
    await upstream.touch('note://q');
    await vi.waitFor(() => expect(b.updates).toEqual(['up+note://q']), { timeout: 10_000 });
    // A subscribed first, so A was judged (and dropped) before B heard it: nothing was sent to A.
    expect(resourceSubscriptions(app.services).size).toBe(held - 1);
    expect(a.updates).toEqual([]);
    await a.client.close();
    await b.client.close();
  });

  it('per-user upstream: each user subscribes on their own session, with their own credentials, and hears only their updates', { timeout: 120_000 }, async () => {
    const t = await tenantWithUpstream();
    await asPerUserUpstream(app, t, 'up', async () => {
      const carol = await createUser(t, 'carol@example.com');
      const dan = await createUser(t, 'dan@example.com');
      const c = await watcher(app, t, fake.issue(t, carol));
      const d = await watcher(app, t, fake.issue(t, dan));
      await streamOpen(app, t, c);
      await streamOpen(app, t, d);
      await c.client.subscribeResource({ uri: 'up+note://a' });
      expect(upstream.log).toContain(`subscribe note://a @ Bearer of-${carol}`);
      await d.client.subscribeResource({ uri: 'up+note://b' });
      // Dan's update comes on Dan's upstream session only; Carol's on hers.
      await upstream.touch('note://b');
      await upstream.touch('note://a');
      await vi.waitFor(() => expect(c.updates).toEqual(['up+note://a']), { timeout: 10_000 });
      await vi.waitFor(() => expect(d.updates).toEqual(['up+note://b']), { timeout: 10_000 });
      // A session holding a subscription is not closed for idleness when another user's session opens.
      const pool = app.services.upstreams;
      const idle = pool.userSessionIdleMs;
      pool.userSessionIdleMs = -1;
      try {
        const erin = await watcher(app, t, fake.issue(t, await createUser(t, 'erin@example.com')));
        await erin.client.callTool({ name: 'up__chatty', arguments: {} });
        expect(pool.userSessionCount).toBe(3);
        // The call's log messages are relayed from Erin's own upstream session to her, and to nobody else.
        expect(erin.logs).toEqual(['debug', 'info', 'warning', 'error']);
        expect(c.logs).toEqual([]);
        await erin.client.close();
      } finally {
        pool.userSessionIdleMs = idle;
      }
      // Carol is deprovisioned: her subscription is forgotten with her upstream session (closed, not reused).
      const held = resourceSubscriptions(app.services).size;
      await app.services.revocation.revokeUser(t, carol, 'scim.deactivated');
      expect(resourceSubscriptions(app.services).size).toBe(held - 1);
      expect(upstream.log).not.toContain(`unsubscribe note://a @ Bearer of-${carol}`);
      await c.client.close().catch(() => undefined);
      await d.client.close();
    });
  });

  it('logging/setLevel filters the relayed log messages of that session only', { timeout: 120_000 }, async () => {
    const t = await tenantWithUpstream();
    const quiet = await watcher(app, t, fake.issue(t, await createUser(t, 'q@example.com')));
    const loud = await watcher(app, t, fake.issue(t, await createUser(t, 'l@example.com')));
    await quiet.client.setLoggingLevel('warning');
    await quiet.client.callTool({ name: 'up__chatty', arguments: {} });
    await loud.client.callTool({ name: 'up__chatty', arguments: {} });
    // Relayed on the call's own stream, before its result: complete when the call returns.
    expect(quiet.logs).toEqual(['warning', 'error']);
    expect(loud.logs).toEqual(['debug', 'info', 'warning', 'error']);
    await quiet.client.setLoggingLevel('debug');
    await quiet.client.callTool({ name: 'up__chatty', arguments: {} });
    expect(quiet.logs).toEqual(['warning', 'error', 'debug', 'info', 'warning', 'error']);
    await quiet.client.close();
    await loud.client.close();
  });
});
