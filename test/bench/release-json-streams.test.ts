import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { releaseAnsweredJsonStreams, streamEntries } from '../../bench/mcp/release-json-streams.js';

/**
 * One MCP session as the bench upstream holds it (sessionful, JSON responses), behind a node:http server; `after`
 * runs after each request is handled, as bench/mcp/upstream.ts does. `wait` is a tool that answers once `open()` is
 * called, and `entered` resolves when it has been called `n` times (requests in flight, without timing).
 */
async function session(after: (t: StreamableHTTPServerTransport) => void = () => {}) {
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => 'sid', enableJsonResponse: true });
  const mcp = new McpServer({ name: 'test-upstream', version: '1.0.0' });
  mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text' as const, text }] }));
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const waiters: { n: number; resolve: () => void }[] = [];
  let calls = 0;
  mcp.registerTool('wait', { inputSchema: { text: z.string() } }, async ({ text }) => {
    calls++;
    for (const w of waiters) if (calls >= w.n) w.resolve();
    await gate;
    return { content: [{ type: 'text' as const, text }] };
  });
  await mcp.connect(transport);
  const server = http.createServer(async (req, res) => {
    await transport.handleRequest(req, res);
    after(transport);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
  const post = async (body: unknown) => {
    const res = await fetch(url, { method: 'POST', headers: { ...headers, 'mcp-session-id': 'sid' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.text() };
  };
  await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) }).then((r) => r.text());
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const call = (id: number, name = 'echo') => post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { text: `hello ${id}` } } });
  const entered = (n: number) => new Promise<void>((resolve) => (calls >= n ? resolve() : waiters.push({ n, resolve })));
  // The gate opened first: a failed assertion must not leave requests in flight for server.close to wait on.
  cleanups.push(async () => open(), () => new Promise<void>((resolve) => server.close(() => resolve())), () => mcp.close());
  return { transport, call, open, entered };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('releaseAnsweredJsonStreams (the bench upstream\'s workaround of typescript-sdk#2559)', () => {
  it('the SDK itself keeps one stream entry per answered POST for the session\'s life (when this fails, the SDK is fixed and the workaround can go)', async () => {
    const s = await session();
    for (let id = 1; id <= 20; id++) expect((await s.call(id)).status).toBe(200);
    expect(streamEntries(s.transport)).toBe(21); // the initialize's POST, and each call's
  });

  it('releases every answered POST\'s entry, one per request, and the session keeps answering', async () => {
    const released: number[] = [];
    const s = await session((t) => released.push(releaseAnsweredJsonStreams(t)));
    for (let id = 1; id <= 20; id++) {
      const answer = await s.call(id);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ id, result: { content: [{ text: `hello ${id}` }] } });
    }
    expect(streamEntries(s.transport)).toBe(0);
    // initialize its own entry, notifications/initialized (202, no stream) none, each call exactly its own.
    expect(released).toEqual([1, 0, ...Array(20).fill(1)]);
  });

  it('keeps the entries of POSTs still in flight, which are then answered as usual', async () => {
    const s = await session();
    await s.call(1); // answered: its entry and the initialize's are left by the SDK
    const inFlight = [s.call(2, 'wait'), s.call(3, 'wait'), s.call(4, 'wait')];
    await s.entered(3);
    expect(streamEntries(s.transport)).toBe(5);
    expect(releaseAnsweredJsonStreams(s.transport)).toBe(2); // only the answered ones
    expect(streamEntries(s.transport)).toBe(3);
    s.open();
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => JSON.parse(a.body) as { id: number; result: { content: { text: string }[] } }).map((a) => [a.id, a.result.content[0]!.text])).toEqual([
      [2, 'hello 2'],
      [3, 'hello 3'],
      [4, 'hello 4'],
    ]);
    expect(releaseAnsweredJsonStreams(s.transport)).toBe(3);
    expect(streamEntries(s.transport)).toBe(0);
  });

  it('does nothing to an object without the SDK\'s maps (a version that renamed them)', () => {
    expect(releaseAnsweredJsonStreams({} as StreamableHTTPServerTransport)).toBe(0);
    expect(streamEntries({} as StreamableHTTPServerTransport)).toBe(0);
  });
});
