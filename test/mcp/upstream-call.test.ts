import http from 'node:http';
import { getEventListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { EmptyResultSchema, ErrorCode, LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testDbKinds } from '../support/databases.js';
import { freePort, type TestApp } from '../support/test-app.js';
import { mapFailure } from '../../src/tools/call-tool.js';
import { SseParser } from '../../src/tools/sse-parser.js';
import { UpstreamCaller, UpstreamProtocolError } from '../../src/tools/upstream-call.js';
import { UpstreamPool, type UpstreamRef } from '../../src/tools/upstream-pool.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { Vault } from '../../src/vault/vault.js';
import { cli, connect, createUser, type FakeVerifier, useGatewayApp } from './support.js';
import { loopbackEgress } from '../support/loopback-egress.js';

type Body = { jsonrpc?: string; id?: string | number; method?: string; params?: Record<string, unknown>; result?: unknown } | undefined;
interface Seen {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: Body;
  port: number;
}
/** Answers a request itself (returns true) instead of letting the SDK server do it. */
type Intercept = (req: http.IncomingMessage, res: http.ServerResponse, body: Body) => boolean;

/** A real upstream: the SDK's McpServer with sessions, answering requests with JSON or with SSE streams. */
async function startSdkUpstream(mode: 'json' | 'sse') {
  const seen: Seen[] = [];
  const started: string[] = [];
  const cancelled: string[] = [];
  const closedEarly: (string | number)[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const state: { intercept?: Intercept; pending?: string | number } = {};
  const build = () => {
    const server = new McpServer({ name: 'upstream', version: '1.0.0' }, { capabilities: { logging: {} } });
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }));
    server.registerTool('hang', {}, async (extra) => {
      started.push(String(extra.requestId));
      await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
      cancelled.push(String(extra.requestId));
      return { content: [] };
    });
    server.registerTool('chatty', {}, async (extra) => {
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'working' } });
      return { content: [{ type: 'text', text: 'done' }] };
    });
    server.registerTool('pinger', {}, async (extra) => {
      await extra.sendRequest({ method: 'ping' }, EmptyResultSchema);
      return { content: [{ type: 'text', text: 'ping answered' }] };
    });
    return server;
  };
  const httpServer = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body) : undefined;
    seen.push({ method: req.method!, headers: req.headers, body, port: req.socket.remotePort! });
    if (body?.method === 'tools/call') res.on('close', () => void (res.writableFinished || closedEarly.push(body.id!)));
    if (state.intercept?.(req, res, body)) return;
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string' && !transport) return void res.writeHead(404).end();
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomBytes(12).toString('hex'),
        enableJsonResponse: mode === 'json',
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      await build().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  });
  const url = await listen(httpServer);
  return {
    url,
    seen,
    started,
    cancelled,
    closedEarly,
    sessions,
    state,
    calls: () => seen.filter((s) => s.body?.method === 'tools/call'),
    initializes: () => seen.filter((s) => s.body?.method === 'initialize').length,
    close: async () => {
      for (const tr of sessions.values()) await tr.close();
      sessions.clear();
      await stop(httpServer);
    },
  };
}
type SdkUpstream = Awaited<ReturnType<typeof startSdkUpstream>>;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}
async function stop(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

const json = (res: http.ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  return true;
};
/** Writes each part as its own write, waiting until it left, so the client sees the stream in pieces. */
async function writeInParts(res: http.ServerResponse, parts: (string | Buffer)[]): Promise<void> {
  for (const part of parts) await new Promise<void>((resolve) => res.write(part, () => setImmediate(resolve)));
}

const tenant = { id: 'ten_test' } as TenantCtx;
const adminHeaders = { 'X-Api-Key': 'k-admin' };
const vault = { getString: async () => JSON.stringify(adminHeaders) } as unknown as Vault;
const ref = (url: string): UpstreamRef => ({ id: `up_${randomBytes(4).toString('hex')}`, url, headersSecretId: 'sec_1', updatedAt: new Date(0) });
const failure = (err: unknown, signal = new AbortController().signal) => mapFailure(err, signal, 1000).failure;
const rejection = (p: Promise<unknown>) => p.then(() => expect.fail('the call succeeded'), (err: unknown) => err);

describe('SseParser (WHATWG event stream)', () => {
  const stream =
    '\ufeff: comment\r\nid: 1\r\nretry: 25\r\ndata: {"a":\r\ndata:1}\r\n\r\nevent: other\ndata: x\n\n' +
    'data:no-space\rdata:  two spaces\r\rid: 2\ndata\n\nid: bad\0id\ndata: ü\n\ndata: unterminated';
  const parse = (parts: string[]) => {
    const events: [string, string][] = [];
    const parser = new SseParser((type, data) => events.push([type, data]));
    for (const p of parts) parser.push(p);
    return { events, parser };
  };
  const expected: [string, string][] = [
    ['message', '{"a":\n1}'],
    ['other', 'x'],
    ['message', 'no-space\n two spaces'],
    ['message', ''],
    ['message', 'ü'],
  ];

  it('parses fields, comments, CRLF/CR/LF, joined data lines, id and retry; drops the unterminated event', () => {
    const { events, parser } = parse([stream]);
    expect(events).toEqual(expected);
    expect(parser.lastEventId).toBe('2'); // an id with NUL is ignored
    expect(parser.retryMs).toBe(25);
  });

  it('gives the same events for every split of the stream into two chunks (CRLF split between CR and LF included)', () => {
    for (let i = 1; i < stream.length; i++) expect(parse([stream.slice(0, i), stream.slice(i)]).events, `split at ${i}`).toEqual(expected);
    expect(parse([...stream]).events).toEqual(expected);
  });

  it('keeps the last event id of a resumed stream until the stream sets a new one; ignores a non-numeric retry', () => {
    const { events, parser } = parse(['retry: 1s\ndata: a\n\n']);
    expect(events).toEqual([['message', 'a']]);
    expect(parser.retryMs).toBeUndefined();
    const resumed = new SseParser(() => undefined, 'ev-7');
    resumed.push('data: b\n\n');
    expect(resumed.lastEventId).toBe('ev-7');
  });
});

describe.each(['json', 'sse'] as const)('UpstreamPool tools/call over the lean hop, upstream answering with %s', (mode) => {
  let upstream: SdkUpstream;
  let pool: UpstreamPool;
  beforeAll(async () => {
    upstream = await startSdkUpstream(mode);
  });
  afterEach(async () => {
    upstream.state.intercept = undefined;
    await pool?.close();
  });
  afterAll(async () => {
    await upstream.close();
  });
  const newPool = () => {
    pool = new UpstreamPool(vault, undefined, loopbackEgress);
    return pool;
  };

  it('answers with the result; sends the session, negotiated version and admin headers over one kept-alive socket; no listener left', async () => {
    const p = newPool();
    const up = ref(upstream.url);
    const signal = new AbortController().signal;
    for (const text of ['a', 'b', 'c']) {
      expect(await p.callTool(tenant, up, 'echo', { text }, signal)).toEqual({ content: [{ type: 'text', text: `echo: ${text}` }] });
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    const calls = upstream.calls().slice(-3);
    const initialize = upstream.seen.findLast((s) => s.body?.method === 'initialize')!;
    for (const c of calls) {
      expect(c.headers).toMatchObject({
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': [...upstream.sessions.keys()].at(-1),
        'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
        'x-api-key': 'k-admin',
      });
      expect(c.headers.authorization).toBeUndefined();
      expect(c.body?.id).toMatch(/^gw-\d+$/);
    }
    expect(new Set(calls.map((c) => c.body?.id)).size).toBe(3);
    // A JSON answer is read to its end before the call resolves, so its socket is back in the pool for a next call.
    // undici waits one event-loop turn before it reuses a socket (a server may close despite keep-alive), so
    // back-to-back calls alternate between two kept-alive sockets instead of opening one per call.
    if (mode === 'json') expect(new Set(calls.map((c) => c.port)).size).toBeLessThanOrEqual(2);
    expect(initialize.headers['x-api-key']).toBe('k-admin');
  });

  it('skips a notification the upstream sends before its response', async () => {
    const result = await newPool().callTool(tenant, ref(upstream.url), 'chatty', {}, new AbortController().signal);
    expect(result.content).toEqual([{ type: 'text', text: 'done' }]);
  });

  it("cancellation aborts the HTTP request and sends notifications/cancelled with the call's id; the session stays", async () => {
    const p = newPool();
    const up = ref(upstream.url);
    await p.callTool(tenant, up, 'echo', { text: 'warm' }, new AbortController().signal);
    const sessionsBefore = upstream.initializes();
    const controller = new AbortController();
    const call = rejection(p.callTool(tenant, up, 'hang', {}, controller.signal));
    await expect.poll(() => upstream.started.length).toBeGreaterThan(0);
    const id = upstream.calls().at(-1)!.body!.id!;
    controller.abort(new Error('user pressed stop'));
    expect(failure(await call, controller.signal)).toBe('cancelled');
    await expect.poll(() => upstream.cancelled).toContain(String(id));
    const notice = upstream.seen.find((s) => s.body?.method === 'notifications/cancelled' && s.body.params?.requestId === id);
    expect(notice?.body?.params?.reason).toMatch(/user pressed stop/);
    await expect.poll(() => upstream.closedEarly).toContain(id);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await p.callTool(tenant, up, 'echo', { text: 'again' }, new AbortController().signal);
    expect(upstream.initializes()).toBe(sessionsBefore);
  });

  it('times out with RequestTimeout when the upstream never answers, and cancels the call upstream', async () => {
    const p = newPool();
    const up = ref(upstream.url);
    // The session first, with the default timeout: on a loaded machine a 20 ms budget could run out during the
    // initialize handshake, before the call was ever sent (nothing upstream to cancel).
    await p.callTool(tenant, up, 'echo', { text: 'warm' }, new AbortController().signal);
    p.callTimeoutMs = 100;
    const before = upstream.cancelled.length;
    const err = await rejection(p.callTool(tenant, up, 'hang', {}, new AbortController().signal));
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(ErrorCode.RequestTimeout);
    expect(failure(err)).toBe('timeout');
    const id = upstream.calls().at(-1)!.body!.id;
    await expect.poll(() => upstream.cancelled.length).toBeGreaterThan(before);
    // The upstream may see the connection close (JSON mode) before the notification's own POST arrives: wait for it.
    await expect.poll(() => upstream.seen.some((s) => s.body?.method === 'notifications/cancelled' && s.body.params?.requestId === id)).toBe(true);
  });

  it('starts a new session once when the upstream answers 404 (session expired), and not a second time', async () => {
    const p = newPool();
    const up = ref(upstream.url);
    await p.callTool(tenant, up, 'echo', { text: 'one' }, new AbortController().signal);
    const before = upstream.initializes();
    upstream.sessions.clear(); // the upstream forgot every session
    expect(await p.callTool(tenant, up, 'echo', { text: 'two' }, new AbortController().signal)).toMatchObject({ content: [{ text: 'echo: two' }] });
    expect(upstream.initializes()).toBe(before + 1);
    expect(upstream.calls().at(-1)!.headers['mcp-session-id']).toBe([...upstream.sessions.keys()].at(-1));

    const callsBefore = upstream.calls().length;
    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && Boolean(res.writeHead(404).end());
    const err = await rejection(p.callTool(tenant, up, 'echo', { text: 'three' }, new AbortController().signal));
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect(upstream.calls().length).toBe(callsBefore + 2);
    expect(failure(err)).toBe('unreachable');
  });

  it('maps a JSON-RPC error answer to McpError (upstream_error, first line) and keeps the session', async () => {
    const p = newPool();
    const up = ref(upstream.url);
    upstream.state.intercept = (_req, res, body) =>
      body?.method === 'tools/call' && json(res, 200, { jsonrpc: '2.0', id: body.id, error: { code: -32602, message: 'bad things\n  at x (y.js:1:1)', data: { field: 'text' } } });
    const err = await rejection(p.callTool(tenant, up, 'echo', { text: 'x' }, new AbortController().signal));
    expect(err).toMatchObject({ code: -32602, data: { field: 'text' } });
    expect(mapFailure(err, new AbortController().signal, 1000)).toMatchObject({ failure: 'upstream_error', result: { content: [{ text: 'The tool failed: bad things' }] } });
    const before = upstream.initializes();
    upstream.state.intercept = undefined;
    await p.callTool(tenant, up, 'echo', { text: 'y' }, new AbortController().signal);
    expect(upstream.initializes()).toBe(before);
  });

  it('maps HTTP 500 to unreachable and opens a new session for the next call', async () => {
    const p = newPool();
    const up = ref(upstream.url);
    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && Boolean(res.writeHead(500).end('oops'));
    const before = upstream.initializes();
    expect(failure(await rejection(p.callTool(tenant, up, 'echo', { text: 'x' }, new AbortController().signal)))).toBe('unreachable');
    upstream.state.intercept = undefined;
    await p.callTool(tenant, up, 'echo', { text: 'y' }, new AbortController().signal);
    expect(upstream.initializes()).toBe(before + 2);
  });

  it('refuses a redirect (the target never sees the call)', async () => {
    const trap = await startSdkUpstream('json');
    try {
      upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && Boolean(res.writeHead(307, { location: trap.url }).end());
      const err = await rejection(newPool().callTool(tenant, ref(upstream.url), 'echo', { text: 'x' }, new AbortController().signal));
      expect(String(err)).toMatch(/Redirect refused/);
      expect(failure(err)).toBe('unreachable');
      expect(trap.seen).toEqual([]);
    } finally {
      await trap.close();
    }
  });

  it('refuses an answer larger than the bound, with or without Content-Length', async () => {
    const p = newPool();
    p.maxResponseBytes = 4096;
    const big = 'x'.repeat(8192);
    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && json(res, 200, { jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text: big }] } });
    const err = await rejection(p.callTool(tenant, ref(upstream.url), 'echo', { text: 'x' }, new AbortController().signal));
    expect(err).toBeInstanceOf(UpstreamProtocolError);
    expect(failure(err)).toBe('unreachable');

    // An endless SSE stream without a newline: the call fails once the bound is passed, it does not wait or grow.
    upstream.state.intercept = (_req, res, body) => {
      if (body?.method !== 'tools/call') return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      void writeInParts(res, Array.from({ length: 8 }, () => `data: ${'y'.repeat(1000)}`));
      return true;
    };
    expect(await rejection(p.callTool(tenant, ref(upstream.url), 'echo', { text: 'x' }, new AbortController().signal))).toBeInstanceOf(UpstreamProtocolError);
  });

  it('refuses a result that is not an object', async () => {
    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && json(res, 200, { jsonrpc: '2.0', id: body.id, result: 'text' });
    const err = await rejection(newPool().callTool(tenant, ref(upstream.url), 'echo', { text: 'x' }, new AbortController().signal));
    expect(err).toBeInstanceOf(UpstreamProtocolError);
    expect(failure(err)).toBe('unreachable');
  });

  it('reads a JSON answer written in pieces and a JSON-RPC batch; refuses one cut short, one not JSON, one without the response', async () => {
    const p = newPool();
    const call = () => p.callTool(tenant, ref(upstream.url), 'echo', { text: 'x' }, new AbortController().signal);
    const answer = (id: NonNullable<Body>['id']) => JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'grüße' }] } });
    const expected = { content: [{ type: 'text', text: 'grüße' }] };
    // Pieces of 5 bytes (the two-byte "ü" cut in the middle), chunked: no Content-Length.
    upstream.state.intercept = (_req, res, body) => {
      if (body?.method !== 'tools/call') return false;
      const bytes = Buffer.from(answer(body.id));
      res.writeHead(200, { 'content-type': 'application/json' });
      void writeInParts(res, Array.from({ length: Math.ceil(bytes.length / 5) }, (_, i) => bytes.subarray(i * 5, i * 5 + 5))).then(() => res.end());
      return true;
    };
    expect(await call()).toEqual(expected);

    // A batch, as 2025-03-26 servers may answer: a log notification and another id's response before ours.
    upstream.state.intercept = (_req, res, body) =>
      body?.method === 'tools/call' &&
      json(res, 200, [
        { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } },
        { jsonrpc: '2.0', id: 'someone-else', result: { content: [] } },
        JSON.parse(answer(body.id)) as unknown,
      ]);
    expect(await call()).toEqual(expected);

    // Cut short: the declared length never arrives, the connection closes half-way.
    upstream.state.intercept = (_req, res, body) => {
      if (body?.method !== 'tools/call') return false;
      const text = answer(body.id);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      void writeInParts(res, [text.slice(0, 20)]).then(() => res.destroy());
      return true;
    };
    const cut = await rejection(call());
    expect(cut).toBeInstanceOf(UpstreamProtocolError);
    expect(String(cut)).toMatch(/closed before the answer ended/);
    expect(failure(cut)).toBe('unreachable');

    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && Boolean(res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":'));
    const garbled = await rejection(call());
    expect(garbled).toBeInstanceOf(UpstreamProtocolError);
    expect(String(garbled)).toMatch(/not JSON/);

    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && json(res, 200, { jsonrpc: '2.0', id: 'someone-else', result: { content: [] } });
    const unanswered = await rejection(call());
    expect(unanswered).toBeInstanceOf(UpstreamProtocolError);
    expect(String(unanswered)).toMatch(/no response to the request/);
  });
});

describe('UpstreamPool tools/call: SSE answers from a hand-written upstream', () => {
  let upstream: SdkUpstream;
  let pool: UpstreamPool;
  beforeAll(async () => {
    upstream = await startSdkUpstream('sse');
    pool = new UpstreamPool(vault, undefined, loopbackEgress);
  });
  afterAll(async () => {
    await pool.close();
    await upstream.close();
  });
  const call = () => pool.callTool(tenant, ref(upstream.url), 'echo', { text: 'x' }, new AbortController().signal);

  it('reads a response split across chunks, after a comment, another id, another event type and a notification', async () => {
    upstream.state.intercept = (_req, res, body) => {
      if (body?.method !== 'tools/call') return false;
      const answer = JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text: 'grüße' }] } });
      const stream =
        ': keep-alive\r\n\r\n' +
        `data: ${JSON.stringify({ jsonrpc: '2.0', id: 'someone-else', result: { content: [] } })}\r\n\r\n` +
        `event: other\r\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { wrong: true } })}\r\n\r\n` +
        `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } })}\r\n\r\n` +
        // Two data lines, joined by "\n" (JSON whitespace) into the response.
        `data: ${answer.slice(0, answer.indexOf(',') + 1)}\r\ndata: ${answer.slice(answer.indexOf(',') + 1)}\r\n\r\n`;
      const bytes = Buffer.from(stream);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Pieces of 7 bytes: lines, CRLFs and the two-byte "ü" are cut in the middle.
      const pieces = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
      void writeInParts(res, pieces).then(() => res.end());
      return true;
    };
    expect(await call()).toEqual({ content: [{ type: 'text', text: 'grüße' }] });
  });

  it('resumes a stream the upstream closed before answering: GET with Last-Event-ID after the retry delay', async () => {
    upstream.state.intercept = (req, res, body) => {
      if (body?.method === 'tools/call') {
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: ev-1\nretry: 0\ndata:\n\n');
        upstream.state.pending = body.id;
        return true;
      }
      if (req.method === 'GET' && req.headers['last-event-id'] === 'ev-1') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`id: ev-2\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: upstream.state.pending, result: { content: [{ type: 'text', text: 'resumed' }] } })}\n\n`);
        return true;
      }
      return false;
    };
    expect(await call()).toEqual({ content: [{ type: 'text', text: 'resumed' }] });
    const resume = upstream.seen.findLast((s) => s.method === 'GET' && s.headers['last-event-id'] === 'ev-1')!;
    expect(resume.headers).toMatchObject({ accept: 'text/event-stream', 'mcp-session-id': expect.any(String), 'x-api-key': 'k-admin' });
  });

  it('answers at once when the stream goes on after the response, and gives the stream up after the drain time', async () => {
    let closed!: () => void;
    const streamClosed = new Promise<void>((resolve) => (closed = resolve));
    upstream.state.intercept = (_req, res, body) => {
      if (body?.method !== 'tools/call') return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text: 'first' }] } })}\n\n`);
      res.on('close', () => closed()); // the upstream never ends this stream: only the gateway can close it
      return true;
    };
    expect(await call()).toEqual({ content: [{ type: 'text', text: 'first' }] });
    await streamClosed;
  });

  it('fails at once when a stream without event ids ends before the response', async () => {
    upstream.state.intercept = (_req, res, body) => body?.method === 'tools/call' && Boolean(res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': bye\n\n'));
    expect(await rejection(call())).toBeInstanceOf(UpstreamProtocolError);
  });

  it("hands a server→client ping to the SDK client, which answers it, so the upstream's tool completes", async () => {
    upstream.state.intercept = undefined;
    pool.callTimeoutMs = 5_000; // without an answer the tool would wait for it
    const result = await pool.callTool(tenant, ref(upstream.url), 'pinger', {}, new AbortController().signal);
    expect(result.content).toEqual([{ type: 'text', text: 'ping answered' }]);
    expect(upstream.seen.some((s) => s.method === 'POST' && s.body?.method === undefined && JSON.stringify(s.body?.result) === '{}')).toBe(true);
  });
});

describe('UpstreamCaller against a port nobody listens on', () => {
  it('rejects with a connection error that maps to unreachable', async () => {
    const cancels: string[] = [];
    const caller = new UpstreamCaller({ egress: loopbackEgress, url: new URL(`http://127.0.0.1:${await freePort()}/mcp`), headers: {}, cancel: (id) => void cancels.push(id) });
    try {
      const err = await rejection(caller.call('tools/call', { name: 'x' }, { signal: new AbortController().signal, timeoutMs: 5000 }));
      expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(failure(err)).toBe('unreachable');
      expect(cancels).toEqual([]);
    } finally {
      caller.close();
    }
  });
});

describe.each(testDbKinds)('Gateway → upstream tools/call headers (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: SdkUpstream;
  useGatewayApp(kind, (a, f) => {
    app = a;
    fake = f;
  });
  beforeAll(async () => {
    upstream = await startSdkUpstream('sse');
  });
  afterAll(async () => {
    await app.services.upstreams.close();
    await upstream.close();
  });

  it("sends the admin headers and never the user's bearer token", async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'hop@example.com');
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url, header: ['X-Api-Key: k-tenant'] });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__echo' });
    const token = fake.issue(t, user);
    const { client } = await connect(app, t, token);
    expect((await client.callTool({ name: 'up__echo', arguments: { text: 'hi' } })).content).toEqual([{ type: 'text', text: 'echo: hi' }]);
    await client.close();
    const call = upstream.calls().at(-1)!;
    expect(call.headers['x-api-key']).toBe('k-tenant');
    expect(call.headers.authorization).toBeUndefined();
    for (const s of upstream.seen) expect(JSON.stringify(s.headers)).not.toContain(token);
  });
});
