import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { callableToolsCache, MAX_AGE_MS } from '../../src/tools/callable-tools-cache.js';
import { addToGroup, cli, connect, createUser, type FakeVerifier, type Upstream, useGatewayApp } from './support.js';

/**
 * The per-node permission cache (src/tools/callable-tools-cache.ts): each test first proves the answer is served from
 * the cache (a database write without its event is not seen), then that the event makes the very next request read
 * current data.
 */
describe.each(testDbKinds)('MCP permission cache obeys the bus (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: Upstream;
  useGatewayApp(kind, (a, f, u) => {
    app = a;
    fake = f;
    upstream = u;
  });

  const names = async (client: Awaited<ReturnType<typeof connect>>['client']) => (await client.listTools()).tools.map((x) => x.name).sort();
  const echo = (client: Awaited<ReturnType<typeof connect>>['client']) => client.callTool({ name: 'up__echo', arguments: { text: 'x' } });

  async function setUp(groups: string[]) {
    const t = await app.createTenant();
    const user = await createUser(t, 'cache@example.com', groups);
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__echo', group: ['Eng'] });
    const { client } = await connect(app, t, fake.issue(t, user));
    return { t, user, client };
  }

  it('user.changed (SCIM / SSO membership change) drops the user’s entry: group removal and re-adding apply to the next call', async () => {
    const { t, user, client } = await setUp(['Eng']);
    expect(await names(client)).toEqual(['up__echo', 'whoami']);
    const group = await t.db.group.findFirst({ where: { displayNameKey: 'eng' } });
    await t.db.groupMembership.deleteMany({ where: { groupId: group!.id, userId: user } });
    // Not announced: still the cached decision (this is why every writer must publish).
    expect((await echo(client)).isError).toBeFalsy();
    await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId: user });
    await expect(echo(client)).rejects.toThrow(/Unknown tool/);
    expect(await names(client)).toEqual(['whoami']);
    await addToGroup(t, user, 'Eng');
    await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId: user });
    expect((await echo(client)).isError).toBeFalsy();
    await client.close();
  });

  it('members.changed (one SCIM group change set) drops the named users’ entries, or every entry of the tenant when null', async () => {
    const { t, user, client } = await setUp(['Eng']);
    await client.close();
    const cache = callableToolsCache(app.services);
    expect((await cache.list(t, user)).map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    const group = await t.db.group.findFirst({ where: { displayNameKey: 'eng' } });
    await t.db.groupMembership.deleteMany({ where: { groupId: group!.id, userId: user } });
    await app.services.bus.publish({ type: 'members.changed', tenantId: t.id, userIds: ['usr_someoneelse'] });
    expect((await cache.list(t, user)).map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    await app.services.bus.publish({ type: 'members.changed', tenantId: t.id, userIds: [user] });
    expect((await cache.list(t, user)).map((x) => x.name)).toEqual(['whoami']);
    await addToGroup(t, user, 'Eng');
    await app.services.bus.publish({ type: 'members.changed', tenantId: t.id, userIds: null });
    expect((await cache.list(t, user)).map((x) => x.name)).toEqual(['up__echo', 'whoami']);
  });

  it('user.revoked drops the entry: an inactive user may call nothing on the next decision', async () => {
    const { t, user, client } = await setUp(['Eng']);
    await client.close();
    const cache = callableToolsCache(app.services);
    expect((await cache.list(t, user)).map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    await t.db.user.updateMany({ where: { id: user }, data: { active: false } });
    expect(await cache.find(t, user, 'whoami')).not.toBeNull();
    await app.services.bus.publish({ type: 'user.revoked', tenantId: t.id, userId: user });
    // Asked of the cache itself: the endpoint's bearer check would refuse this user before any tool decision.
    expect(await cache.list(t, user)).toEqual([]);
    expect(await cache.find(t, user, 'whoami')).toBeNull();
  });

  it('tools.changed and tenant.changed drop every entry of the tenant, and only of that tenant', async () => {
    const a = await setUp(['Eng']);
    const b = await setUp(['Eng']);
    expect(await names(a.client)).toEqual(['up__echo', 'whoami']);
    expect(await names(b.client)).toEqual(['up__echo', 'whoami']);
    for (const x of [a, b]) await x.t.db.tool.updateMany({ where: { name: 'up__echo' }, data: { approved: false } });
    await app.services.bus.publish({ type: 'tools.changed', tenantId: a.t.id });
    expect(await names(a.client)).toEqual(['whoami']);
    expect(await names(b.client)).toEqual(['up__echo', 'whoami']);
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: b.t.id });
    expect(await names(b.client)).toEqual(['whoami']);
    await a.client.close();
    await b.client.close();
  });

  it('tool revoke by the CLI applies to the next call (it publishes tools.changed)', async () => {
    const { t, client } = await setUp(['Eng']);
    expect((await echo(client)).isError).toBeFalsy();
    await cli(app, 'tool revoke', { tenant: t.slug, tool: 'up__echo' });
    await expect(echo(client)).rejects.toThrow(/Unknown tool/);
    await client.close();
  });

  it('an entry is served up to the backstop age (10 min) without an event, and reloaded at it', async () => {
    const { t, user, client } = await setUp(['Eng']);
    expect(await names(client)).toEqual(['up__echo', 'whoami']);
    await t.db.groupMembership.deleteMany({ where: { userId: user } });
    expect(await names(client)).toEqual(['up__echo', 'whoami']);
    app.clock.advance(MAX_AGE_MS - 1);
    expect(await names(client)).toEqual(['up__echo', 'whoami']);
    app.clock.advance(1);
    expect(await names(client)).toEqual(['whoami']);
    expect(callableToolsCache(app.services).size).toBeGreaterThan(0);
    await client.close();
  });

  it('a hand edit of the database is seen on the next request after `tenant refresh-caches` (decision 0040)', async () => {
    const { t, user, client } = await setUp(['Eng']);
    expect(await names(client)).toEqual(['up__echo', 'whoami']);
    await t.db.groupMembership.deleteMany({ where: { userId: user } });
    expect(await names(client)).toEqual(['up__echo', 'whoami']);
    expect(await cli(app, 'tenant refresh-caches', { tenant: t.slug })).toEqual({ slug: t.slug, refreshed: true });
    expect(await names(client)).toEqual(['whoami']);
    await app.services.audit.flush();
    expect(await t.db.auditEvent.count({ where: { action: 'tenant.caches.refresh' } })).toBe(1);
    await client.close();
  });

  it('users who may call the same tools share one tool set; another decision gets its own, and an event a new one', async () => {
    const { t, user, client } = await setUp(['Eng']);
    await client.close();
    const colleague = await createUser(t, 'colleague@example.com', ['Eng']);
    const outsider = await createUser(t, 'outsider@example.com');
    const cache = callableToolsCache(app.services);
    const set = await cache.toolSet(t, user);
    expect(set.list.map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    expect(await cache.toolSet(t, colleague)).toBe(set);
    const other = await cache.toolSet(t, outsider);
    expect(other.list.map((x) => x.name)).toEqual(['whoami']);
    // The definitions themselves are shared too (one catalogue per tenant), not copied per user.
    expect(other.byName.get('whoami')).toBe(set.byName.get('whoami'));
    await t.db.groupMembership.deleteMany({ where: { userId: colleague } });
    await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId: colleague });
    expect(await cache.toolSet(t, colleague)).toBe(other);
    await app.services.bus.publish({ type: 'tools.changed', tenantId: t.id });
    const reloaded = await cache.toolSet(t, user);
    expect(reloaded).not.toBe(set);
    expect(reloaded.list.map((x) => x.name)).toEqual(['up__echo', 'whoami']);
  });

  it('a tool definition changed in the database is listed after tools.changed, or after the backstop age, not before', async () => {
    const { t, client } = await setUp(['Eng']);
    const description = async () => (await client.listTools()).tools.find((x) => x.name === 'up__echo')?.description;
    const before = await description();
    await t.db.tool.updateMany({ where: { name: 'up__echo' }, data: { description: 'changed once' } });
    expect(await description()).toBe(before);
    await app.services.bus.publish({ type: 'tools.changed', tenantId: t.id });
    expect(await description()).toBe('changed once');
    await t.db.tool.updateMany({ where: { name: 'up__echo' }, data: { description: 'changed twice' } });
    expect(await description()).toBe('changed once');
    app.clock.advance(MAX_AGE_MS);
    expect(await description()).toBe('changed twice');
    await client.close();
  });
});
