import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { LIST_CHANGED_INTERVAL_MS, upstreamListChanges } from '../../src/tools/upstream-list-changes.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, connect, createUser, useFakeVerifier, type FakeVerifier } from './support.js';
import { asPerUserUpstream, startSubscribingUpstream, type SubscribingUpstream } from './subscribing-upstream.js';

/** A client of the gateway counting the list_changed notifications its GET stream delivers. */
async function watcher(app: TestApp, fake: FakeVerifier, t: TenantCtx, userId: string) {
  const { client } = await connect(app, t, fake.issue(t, userId));
  const heard = { tools: 0, prompts: 0, resources: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard.tools++);
  client.setNotificationHandler(PromptListChangedNotificationSchema, () => void heard.prompts++);
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void heard.resources++);
  // The GET stream listens once it delivers a bus event: `user.changed` (tools/list_changed only) until it does.
  await vi.waitFor(
    async () => {
      await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId });
      expect(heard.tools).toBeGreaterThan(0);
    },
    { timeout: 20_000, interval: 50 },
  );
  heard.tools = 0;
  return { client, heard };
}

describe.each(testDbKinds)("upstreams' list_changed through the gateway (%s)", (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: SubscribingUpstream;
  beforeAll(async () => {
    app = await startTestApp(kind);
    fake = useFakeVerifier(app);
    upstream = await startSubscribingUpstream();
  }, 60_000);
  afterAll(async () => {
    if (app) upstreamListChanges(app.services).stop();
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
  });

  /** `readers`: a user to create first, in the group the content is then approved for (none = everyone). */
  async function tenantWithUpstream(readers?: (t: TenantCtx) => Promise<string>) {
    const t = await app.createTenant();
    const contentGroups = readers ? [await readers(t).then(() => 'readers')] : [];
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'up', ...(contentGroups.length > 0 ? { group: contentGroups } : { everyone: true }) });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__chatty' });
    // `upstream add` refreshed it just now: the next refresh is due one interval later (manual clock).
    app.clock.advance(LIST_CHANGED_INTERVAL_MS);
    return t;
  }

  const refreshesByListChanged = async (t: TenantCtx) =>
    (await t.db.auditEvent.findMany({ where: { action: 'upstream.refresh', actorKind: 'system' } })).filter((e) => (e.detail as { trigger?: string }).trigger === 'list_changed');

  it('tools: the gateway re-lists the upstream (a changed approved tool is held), clients hear tools/list_changed; a burst is one refresh', { timeout: 120_000 }, async () => {
    const t = await tenantWithUpstream();
    const a = await watcher(app, fake, t, await createUser(t, 'a@example.com'));
    // The call opens the gateway's shared session with the upstream, whose GET stream carries the announcements.
    await a.client.callTool({ name: 'up__chatty', arguments: {} });
    const opened = upstream.sessionsOpened();

    // The upstream rewrites the approved tool's description (announced until its session's GET stream carries it).
    await vi.waitFor(
      async () => {
        await upstream.changeTool('Now also reads your mail');
        expect((await t.db.tool.findFirstOrThrow({ where: { name: 'up__chatty' } })).held).toBe(true);
      },
      { timeout: 20_000, interval: 100 },
    );
    await vi.waitFor(() => expect(a.heard.tools).toBeGreaterThan(0), { timeout: 10_000 });
    await expect(a.client.callTool({ name: 'up__chatty', arguments: {} })).rejects.toThrow(/Unknown tool/);
    expect((await t.db.tool.findFirstOrThrow({ where: { name: 'up__chatty' } })).heldChange).toEqual([
      expect.objectContaining({ field: 'description', before: 'Logs at four levels', after: 'Now also reads your mail' }),
    ]);

    // A burst of announcements within the interval: no further refresh (the clock does not move).
    for (let i = 0; i < 20; i++) await upstream.announce('tools');
    // Marker: a later announcement on the same stream, heard by the client, means the burst reached the gateway.
    await upstream.announce('resources');
    await vi.waitFor(() => expect(a.heard.resources).toBeGreaterThan(0), { timeout: 10_000 });
    await upstreamListChanges(app.services).idle();
    expect(await refreshesByListChanged(t)).toHaveLength(1);
    // One re-listing session for the one refresh.
    expect(upstream.sessionsOpened()).toBe(opened + 1);
    // Another interval later, the upstream's next announcement refreshes again.
    app.clock.advance(LIST_CHANGED_INTERVAL_MS);
    await upstream.announce('tools');
    await vi.waitFor(async () => expect(await refreshesByListChanged(t)).toHaveLength(2), { timeout: 10_000 });
    await a.client.close();
  });

  it('prompts and resources: relayed only to users who may see the upstream content', { timeout: 120_000 }, async () => {
    let readerId = '';
    const t = await tenantWithUpstream(async (t) => (readerId = await createUser(t, 'r@example.com', ['readers'])));
    const reader = await watcher(app, fake, t, readerId);
    const other = await watcher(app, fake, t, await createUser(t, 'o@example.com'));
    await other.client.callTool({ name: 'up__chatty', arguments: {} });
    await vi.waitFor(
      async () => {
        await upstream.announce('prompts');
        expect(reader.heard.prompts).toBeGreaterThan(0);
      },
      { timeout: 20_000, interval: 100 },
    );
    // The other user's stream got the same bus event; a round trip later it still has heard nothing.
    await other.client.ping();
    expect(other.heard.prompts).toBe(0);
    await reader.client.close();
    await other.client.close();
  });

  it('per-user upstream: a list change on one user’s session is relayed to that user only; tools are re-listed with that user’s token', { timeout: 120_000 }, async () => {
    const t = await tenantWithUpstream();
    await asPerUserUpstream(app, t, 'up', async () => {
      const carolId = await createUser(t, 'carol@example.com');
      const danId = await createUser(t, 'dan@example.com');
      const carol = await watcher(app, fake, t, carolId);
      const dan = await watcher(app, fake, t, danId);
      await carol.client.callTool({ name: 'up__chatty', arguments: {} }); // only Carol has an upstream session
      await vi.waitFor(
        async () => {
          await upstream.announce('resources');
          expect(carol.heard.resources).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 100 },
      );
      await dan.client.ping();
      expect(dan.heard.resources).toBe(0);
      // The upstream announces on every open session, the earlier tests' tenants' shared ones too (opened without a
      // header): their re-listings may open sessions after this one, so look at every session opened since.
      const before = upstream.sessionAuth.length;
      await upstream.announce('tools');
      await vi.waitFor(async () => expect(await refreshesByListChanged(t)).toHaveLength(1), { timeout: 10_000 });
      const opened = upstream.sessionAuth.slice(before);
      expect(opened).toContain(`Bearer of-${carolId}`);
      expect(opened).not.toContain(`Bearer of-${danId}`);
      await carol.client.close();
      await dan.client.close();
    });
  });
});
