import { describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { addToGroup, cli, connect, createUser, startUpstream, type FakeVerifier, type Upstream, useGatewayApp } from './support.js';

describe.each(testDbKinds)('MCP tools: registry, approval, proxy (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: Upstream;
  useGatewayApp(kind, (a, f, u) => {
    app = a;
    fake = f;
    upstream = u;
  });

  const names = async (client: Awaited<ReturnType<typeof connect>>['client']) => (await client.listTools()).tools.map((x) => x.name).sort();

  it('upstream add lists the upstream tools as NAME__tool, none callable until approved; headers go to the vault', async () => {
    const t = await app.createTenant();
    const added = await cli(app, 'upstream add', { tenant: t.slug, name: 'files', url: upstream.url, header: ['X-Api-Key: k-123'] });
    expect(added.tools).toEqual(['files__echo', 'files__explode', 'files__hang']);
    expect(upstream.seen.at(-1)?.['x-api-key']).toBe('k-123');
    const row = await t.db.upstream.findFirst({ where: { name: 'files' } });
    expect(row?.headersSecretId).toBeTruthy();
    const listed = await cli(app, 'upstream list', { tenant: t.slug });
    expect(JSON.stringify(listed)).not.toContain('k-123');

    const user = await createUser(t, 'u@example.com');
    const { client } = await connect(app, t, fake.issue(t, user));
    expect(await names(client)).toEqual(['whoami']);
    await expect(client.callTool({ name: 'files__echo', arguments: { text: 'hi' } })).rejects.toThrow(/Unknown tool/);
    await client.close();
  });

  it('filters tools/list by approval and group; a user outside the group can neither see nor call the tool; group removal applies to the next request', async () => {
    const t = await app.createTenant();
    const insider = await createUser(t, 'in@example.com', ['Engineering']);
    const outsider = await createUser(t, 'out@example.com', ['Sales']);
    await cli(app, 'upstream add', { tenant: t.slug, name: 'gh', url: upstream.url });
    const approved = await cli(app, 'tool approve', { tenant: t.slug, tool: 'gh__echo', group: ['engineering'] });
    expect(approved).toMatchObject({ approved: true, access: 'groups', groups: ['Engineering'] });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'gh__explode' });

    const inside = await connect(app, t, fake.issue(t, insider));
    const outside = await connect(app, t, fake.issue(t, outsider));
    expect(await names(inside.client)).toEqual(['gh__echo', 'gh__explode', 'whoami']);
    expect(await names(outside.client)).toEqual(['gh__explode', 'whoami']);
    await expect(outside.client.callTool({ name: 'gh__echo', arguments: { text: 'x' } })).rejects.toThrow(/Unknown tool/);
    // Tool-call audit events are queued before the response and written in the background: flush, then read.
    await app.services.audit.flush();
    expect(await t.db.auditEvent.findFirst({ where: { action: 'mcp.tool.call', actorId: outsider } })).toMatchObject({ outcome: 'denied' });

    const group = await t.db.group.findFirst({ where: { displayNameKey: 'engineering' } });
    // A membership change as SCIM and SSO group sync make it: write, then announce user.changed (permission cache).
    await t.db.groupMembership.deleteMany({ where: { groupId: group!.id, userId: insider } });
    await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId: insider });
    expect(await names(inside.client)).toEqual(['gh__explode', 'whoami']);
    await expect(inside.client.callTool({ name: 'gh__echo', arguments: { text: 'x' } })).rejects.toThrow(/Unknown tool/);
    // And back: the next decision after the event reads current membership.
    await addToGroup(t, insider, 'Engineering');
    await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId: insider });
    expect(await names(inside.client)).toContain('gh__echo');

    await cli(app, 'tool revoke', { tenant: t.slug, tool: 'gh__echo' });
    expect(await names(inside.client)).toEqual(['gh__explode', 'whoami']);
    await inside.client.close();
    await outside.client.close();
  });

  it('approve/revoke transitions: everyone → groups only → one group revoked → nobody', async () => {
    const t = await app.createTenant();
    const eng = await createUser(t, 'eng@example.com', ['Eng']);
    const ops = await createUser(t, 'ops@example.com', ['Ops']);
    const other = await createUser(t, 'other@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'tr', url: upstream.url });
    const can = async (user: string) => {
      const { client } = await connect(app, t, fake.issue(t, user));
      const has = (await names(client)).includes('tr__echo');
      await client.close();
      return has;
    };
    expect(await cli(app, 'tool approve', { tenant: t.slug, tool: 'tr__echo' })).toMatchObject({ access: 'everyone' });
    expect(await can(other)).toBe(true);
    expect(await cli(app, 'tool approve', { tenant: t.slug, tool: 'tr__echo', group: ['Eng', 'Ops'] })).toMatchObject({ access: 'groups', groups: ['Eng', 'Ops'] });
    expect([await can(eng), await can(ops), await can(other)]).toEqual([true, true, false]);
    expect(await cli(app, 'tool revoke', { tenant: t.slug, tool: 'tr__echo', group: ['ops'] })).toMatchObject({ access: 'groups', groups: ['Eng'] });
    expect([await can(eng), await can(ops)]).toEqual([true, false]);
    expect(await cli(app, 'tool revoke', { tenant: t.slug, tool: 'tr__echo' })).toMatchObject({ approved: false, access: 'nobody', groups: [] });
    expect(await can(eng)).toBe(false);
    const listed = (await cli(app, 'tool list', { tenant: t.slug })) as { tools: { name: string }[] };
    expect(listed.tools.map((x) => x.name)).toEqual(['tr__echo', 'tr__explode', 'tr__hang', 'whoami']);
  });

  it('proxies tools/call to the upstream without the client token and audits sizes, not contents', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'caller@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url, header: ['X-Api-Key: secret-key'] });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__echo' });
    const token = fake.issue(t, user, { clientId: 'claude' });
    const { client } = await connect(app, t, token);
    const before = upstream.seen.length;
    const result = await client.callTool({ name: 'up__echo', arguments: { text: 'confidential words' } });
    expect(result.content).toEqual([{ type: 'text', text: 'echo: confidential words' }]);
    const forwarded = upstream.seen.slice(before);
    expect(forwarded.length).toBeGreaterThan(0);
    for (const h of forwarded) {
      expect(h.authorization).toBeUndefined();
      expect(JSON.stringify(h)).not.toContain(token);
      expect(h['x-api-key']).toBe('secret-key');
    }
    await app.services.audit.flush();
    const event = await t.db.auditEvent.findFirst({ where: { action: 'mcp.tool.call', actorId: user } });
    expect(event).toMatchObject({ outcome: 'success', actorKind: 'user', targetKind: 'tool' });
    const detail = event!.detail as Record<string, unknown>;
    expect(detail).toMatchObject({ tool: 'up__echo', clientId: 'claude' });
    expect(detail.argumentBytes).toBe(JSON.stringify({ text: 'confidential words' }).length);
    expect(detail.resultBytes).toBeGreaterThan(0);
    expect(typeof detail.durationMs).toBe('number');
    expect(JSON.stringify(event)).not.toContain('confidential');
    await client.close();
  });

  it('maps an upstream failure and a timeout to tool error results (never a stack), and cancels the upstream call', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'err@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'bad', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'bad__explode' });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'bad__hang' });
    const { client } = await connect(app, t, fake.issue(t, user));

    const failed = await client.callTool({ name: 'bad__explode', arguments: {} });
    expect(failed.isError).toBe(true);
    expect(JSON.stringify(failed)).not.toMatch(/internal\.js|\bat secret\b/);

    const pool = app.services.upstreams;
    const saved = pool.callTimeoutMs;
    pool.callTimeoutMs = 300;
    try {
      const hung = await client.callTool({ name: 'bad__hang', arguments: {} });
      expect(hung).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/did not answer/) }] });
    } finally {
      pool.callTimeoutMs = saved;
    }
    await expect.poll(() => upstream.cancelled.length).toBeGreaterThan(0);
    await app.services.audit.flush();
    const outcomes = (await t.db.auditEvent.findMany({ where: { action: 'mcp.tool.call', actorId: user } })).map((e) => [e.outcome, (e.detail as { error?: string }).error]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['failure', 'tool_error'],
        ['failure', 'timeout'],
      ]),
    );
    await client.close();
  });

  it('cancels the upstream call when the client cancels (notifications/cancelled arrives in a later request)', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'cancel@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'slow', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'slow__hang' });
    const { client } = await connect(app, t, fake.issue(t, user));
    const before = { started: upstream.started.length, cancelled: upstream.cancelled.length };
    const controller = new AbortController();
    const call = client.callTool({ name: 'slow__hang', arguments: {} }, undefined, { signal: controller.signal });
    await expect.poll(() => upstream.started.length).toBeGreaterThan(before.started);
    controller.abort('user pressed stop');
    await expect(call).rejects.toThrow();
    await expect.poll(() => upstream.cancelled.length).toBeGreaterThan(before.cancelled);
    // The server side of a cancelled call finishes (and is audited) after the client has given up: poll, flushing.
    const audited = async () => {
      await app.services.audit.flush();
      return (await t.db.auditEvent.findFirst({ where: { action: 'mcp.tool.call', actorId: user } }))?.detail;
    };
    await expect.poll(audited).toMatchObject({ tool: 'slow__hang', error: 'cancelled' });
    await client.close();
  });

  it('maps an unreachable upstream to a tool error result', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'down@example.com');
    const temp = await startUpstream();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'gone', url: temp.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'gone__echo' });
    await temp.close();
    const { client } = await connect(app, t, fake.issue(t, user));
    const res = await client.callTool({ name: 'gone__echo', arguments: { text: 'x' } });
    expect(res).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/unreachable/) }] });
    await client.close();
  });

  it("never lets another tenant's approval, grant or membership decide a call (raw SQL bound to the tenant)", async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    await cli(app, 'upstream add', { tenant: a.slug, name: 'same', url: upstream.url });
    await cli(app, 'upstream add', { tenant: b.slug, name: 'same', url: upstream.url });
    await cli(app, 'tool approve', { tenant: a.slug, tool: 'same__echo' });
    const userA = await createUser(a, 'a@example.com', ['Ops']);
    await cli(app, 'tool approve', { tenant: a.slug, tool: 'same__explode', group: ['Ops'] });
    const userB = await createUser(b, 'b@example.com', ['Ops']);
    const { client } = await connect(app, b, fake.issue(b, userB));
    expect(await names(client)).toEqual(['whoami']);
    await expect(client.callTool({ name: 'same__echo', arguments: { text: 'x' } })).rejects.toThrow(/Unknown tool/);
    await expect(client.callTool({ name: 'same__explode', arguments: {} })).rejects.toThrow(/Unknown tool/);
    await client.close();
    // A's own user still can.
    const own = await connect(app, a, fake.issue(a, userA));
    expect(await names(own.client)).toEqual(['same__echo', 'same__explode', 'whoami']);
    expect((await own.client.callTool({ name: 'same__echo', arguments: { text: 'x' } })).isError).toBeFalsy();
    await own.client.close();
  });

  it('whoami tells the caller who they are, their groups and their tools', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'who@example.com', ['Finance', 'All Staff']);
    const { client } = await connect(app, t, fake.issue(t, user, { clientId: 'vscode' }));
    const res = await client.callTool({ name: 'whoami', arguments: {} });
    expect(res.structuredContent).toMatchObject({
      tenant: t.slug,
      user: { id: user, userName: 'who@example.com' },
      client: 'vscode',
      groups: ['All Staff', 'Finance'],
      tools: ['whoami'],
    });
    await client.close();
  });

  it('refresh adds new tools unapproved and deletes removed ones; remove drops the upstream', async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'r', url: upstream.url });
    await t.db.tool.deleteMany({ where: { name: 'r__echo' } });
    await t.db.tool.create({ data: { id: 'tool_stale', tenantId: t.id, name: 'r__stale', kind: 'upstream', upstreamId: (await t.db.upstream.findFirst())!.id, upstreamToolName: 'stale', approved: true, everyone: true } });
    const report = await cli(app, 'upstream refresh', { tenant: t.slug, name: 'r' });
    expect(report).toMatchObject({ added: ['r__echo'], removed: ['r__stale'] });
    expect(await t.db.tool.findFirst({ where: { name: 'r__echo' } })).toMatchObject({ approved: false });
    await cli(app, 'upstream remove', { tenant: t.slug, name: 'r' });
    expect(await t.db.tool.count({ where: { kind: 'upstream' } })).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { ownerKind: 'upstream-headers' } })).toBe(0);
  });

  it('announces tool-list changes on an open stream (notifications/tools/list_changed)', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'stream@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'n', url: upstream.url });
    const { client } = await connect(app, t, fake.issue(t, user));
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    // The SDK client opens its GET stream after initialization; wait until the server holds it.
    await expect.poll(async () => {
      await cli(app, 'tool approve', { tenant: t.slug, tool: 'n__echo' });
      return Promise.race([changed.then(() => true), new Promise((r) => setImmediate(() => r(false)))]);
    }).toBe(true);
    expect(await names(client)).toContain('n__echo');
    await client.close();
  });
});
