import { describe, expect, it, vi } from 'vitest';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { cli, createUser, type FakeVerifier, type Upstream, useGatewayApp } from './support.js';

/**
 * The tools/call + tools/list fast path (src/mcp/fast-path.ts) must answer exactly like the SDK transport. A batch
 * of one request always goes through the SDK (the fast path takes single messages only) and the SDK answers it with
 * a single object, so the two responses can be compared byte for byte.
 */
describe.each(testDbKinds)('MCP fast path answers exactly like the SDK (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: Upstream;
  useGatewayApp(kind, (a, f, u) => {
    app = a;
    fake = f;
    upstream = u;
  });

  async function setUp() {
    const t = await app.createTenant();
    const user = await createUser(t, 'fast@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__echo' });
    const headers = { authorization: `Bearer ${fake.issue(t, user)}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    return { t, user, url: mcpResourceUrl(app.url, t), headers };
  }

  const post = async (url: string, headers: Record<string, string>, body: unknown) => {
    const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
    const h = Object.fromEntries([...r.headers].filter(([k]) => !['date', 'x-request-id'].includes(k)));
    return { status: r.status, headers: h, body: await r.text() };
  };

  const call = (id: number | string, params: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params });
  it.each([
    ['tools/list', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, true],
    ['tools/call success', call('x', { name: 'up__echo', arguments: { text: 'hi' } }), true],
    ['tools/call of an unknown tool', call(2, { name: 'nope', arguments: {} }), true],
    ['tools/call of an unapproved tool', call(3, { name: 'up__explode', arguments: {} }), true],
    ['tools/call with upstream-invalid arguments', call(4, { name: 'up__echo', arguments: { text: 1 } }), true],
    ['tools/call with invalid params: -32602 on both paths', call(5, {}), true],
    ['tools/call with array arguments: -32602 on both paths', call(7, { name: 'up__echo', arguments: [] }), true],
    ['tools/call with a task (SDK renders it)', call(6, { name: 'up__echo', arguments: { text: 'a' }, task: { ttl: 1000 } }), false],
  ])('%s: same status, headers and body', async (_label, message, fastPath) => {
    const { url, headers } = await setUp();
    // Counts the gateway's own SDK servers (the test upstream in this process is an SDK server too).
    const connect = vi.spyOn(Server.prototype, 'connect');
    const gatewayServers = () => connect.mock.contexts.filter((c) => (c as unknown as { _serverInfo: { name: string } })._serverInfo.name === 'sso-bridge').length;
    const fast = await post(url, headers, message);
    const afterFast = gatewayServers();
    const sdk = await post(url, headers, [message]);
    expect(gatewayServers()).toBe(afterFast + 1);
    connect.mockRestore();
    expect(afterFast).toBe(fastPath ? 0 : 1);
    expect(fast).toEqual(sdk);
    expect(fast.headers['content-type']).toBe('application/json');
  });

  it('leaves what it does not handle to the SDK: wrong Accept (406), unsupported protocol version (400)', async () => {
    const { url, headers } = await setUp();
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'hi' } } };
    expect((await post(url, { ...headers, accept: 'application/json' }, call)).status).toBe(406);
    const old = await post(url, { ...headers, 'mcp-protocol-version': '1999-01-01' }, call);
    expect(old.status).toBe(400);
    expect(old.body).toContain('Unsupported protocol version');
  });

  it('writes the audit event of a fast-path call, sizes only', async () => {
    const { t, user, url, headers } = await setUp();
    const r = await post(url, headers, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'secret-text' } } });
    expect(r.status).toBe(200);
    await app.services.audit.flush();
    const row = await t.db.auditEvent.findFirst({ where: { action: 'mcp.tool.call', actorId: user } });
    expect(row).toMatchObject({ outcome: 'success' });
    expect(JSON.stringify(row?.detail)).not.toContain('secret-text');
    expect(row?.detail).toMatchObject({ tool: 'up__echo', clientId: 'client-a', argumentBytes: expect.any(Number) });
  });
});
