import { describe, expect, it } from 'vitest';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import type { TestApp } from '../support/test-app.js';
import { cli, createUser, useGatewayApp, type FakeVerifier, type Upstream } from './support.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

/** A POST the transport refuses (406, 415, 400) has no effect: no session id, no cancellation, no relayed answer. */
describe('MCP requests the transport refuses change nothing', () => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: Upstream;
  useGatewayApp('pglite', (a, f, u) => ((app = a), (fake = f), (upstream = u)));

  async function setUp(email: string) {
    const t = await app.createTenant();
    const token = fake.issue(t, await createUser(t, email));
    // A header given as undefined is not sent.
    const post = (body: unknown, headers: Record<string, string | undefined> = {}) => {
      const all = Object.entries({ ...HEADERS, authorization: `Bearer ${token}`, ...headers }).filter((e): e is [string, string] => e[1] !== undefined);
      return fetch(mcpResourceUrl(app.url, t), { method: 'POST', headers: all, body: typeof body === 'string' ? body : JSON.stringify(body) });
    };
    return { t, post };
  }

  it('an initialize refused for its Accept or Content-Type carries no Mcp-Session-Id; an accepted one does', async () => {
    const { post } = await setUp('init@example.com');
    for (const headers of [{ accept: 'text/html' }, { accept: 'application/json' }, { 'content-type': 'text/plain' }]) {
      const res = await post(initialize, headers);
      expect(res.status, JSON.stringify(headers)).toBeGreaterThanOrEqual(400);
      expect(res.headers.get('mcp-session-id'), JSON.stringify(headers)).toBeNull();
    }
    const ok = await post(initialize);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('mcp-session-id')).toBeTruthy();
  });

  it('a notifications/cancelled refused for its protocol version, Accept or Content-Type does not cancel the call', async () => {
    const { t, post } = await setUp('cancel@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'cx', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'cx__hang' });
    const before = upstream.started.length;
    const call = post({ jsonrpc: '2.0', id: 'c1', method: 'tools/call', params: { name: 'cx__hang', arguments: {} } });
    // Wait for the upstream to have the call (a poll on the upstream's own record, not a sleep for time to pass).
    await expect.poll(() => upstream.started.length, { timeout: 15_000 }).toBeGreaterThan(before);
    const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'c1' } };
    for (const headers of [{ 'mcp-protocol-version': '1999-01-01' }, { accept: 'text/html' }, { 'content-type': 'text/plain' }]) {
      const refused = await post(cancel, headers);
      expect(refused.status, JSON.stringify(headers)).toBeGreaterThanOrEqual(400);
    }
    expect(upstream.cancelled.length).toBe(0);
    // The same notification, acceptable, does cancel it.
    expect((await post(cancel)).status).toBe(202);
    const answer = (await (await call).json()) as { result?: { isError?: boolean; content?: { text?: string }[] } };
    expect(answer.result?.isError).toBe(true);
    expect(JSON.stringify(answer)).toContain('cancelled');
  });

  it('JSON-RPC batches are refused from clients of 2025-06-18 and later, and an empty batch from anyone (-32600)', async () => {
    const { post } = await setUp('batch@example.com');
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    for (const version of ['2025-11-25', '2025-06-18']) {
      const res = await post([list], { 'mcp-protocol-version': version });
      expect(res.status, version).toBe(400);
      expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
    }
    const empty = await post('[]', { 'mcp-protocol-version': '2025-03-26' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { code: number } }).error.code).toBe(-32600);
    // 2025-03-26 (or no header: what the spec says to assume) still has batches.
    for (const version of ['2025-03-26', undefined]) {
      const res = await post([list, { ...list, id: 2 }], { 'mcp-protocol-version': version });
      expect(res.status, String(version)).toBe(200);
      expect(await res.json()).toHaveLength(2);
    }
  });

  it('a body with a lone UTF-16 surrogate is a parse error (-32700), on either reader; an escaped pair is text', async () => {
    const { post } = await setUp('surrogate@example.com');
    // The plain reader, and body-parser (a media type parameter it alone handles).
    for (const contentType of ['application/json', 'application/json; profile="x"']) {
      const res = await post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x\\ud800","arguments":{"k":"\\udfff"}}}', { 'content-type': contentType });
      expect(res.status, contentType).toBe(400);
      expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32700);
    }
    const pair = await post('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x\\ud83d\\ude00","arguments":{}}}');
    expect(pair.status).toBe(200);
    expect(JSON.stringify(await pair.json())).toContain('x😀');
  });

  it('a body in a charset we do not decode is a 415 that says so, not a parse error', async () => {
    const { post } = await setUp('charset@example.com');
    const res = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, { 'content-type': 'application/json; charset=iso-8859-1' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: number; message: string } }).error).toMatchObject({ code: -32000, message: expect.stringMatching(/^Unsupported Media Type/) });
  });
});
