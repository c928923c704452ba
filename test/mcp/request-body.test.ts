import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { firstNonSpace, MAX_BODY_BYTES } from '../../src/mcp/read-json-body.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, useFakeVerifier, type FakeVerifier } from './support.js';

const toolsList = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

/** A raw POST (node:http, so the body can be chunked, compressed or oversized exactly as a client might send it). */
function post(url: string, headers: Record<string, string>, body: Buffer | string, chunked = false) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (!chunked) req.setHeader('content-length', Buffer.byteLength(body));
    req.end(body);
  });
}

describe.each(testDbKinds)('MCP request bodies (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let t: TenantCtx;
  let auth: Record<string, string>;
  beforeAll(async () => {
    app = await startTestApp(kind);
    fake = useFakeVerifier(app);
    t = await app.createTenant();
    auth = { authorization: `Bearer ${fake.issue(t, await createUser(t, 'body@example.com'))}` };
  });
  afterAll(() => app?.close());

  const url = () => mcpResourceUrl(app.url, t);
  const json = (extra: Record<string, string> = {}) => ({ ...auth, 'content-type': 'application/json', ...extra });

  it.each([
    ['application/json', toolsList],
    ['application/json; charset=utf-8', toolsList],
    ['application/json; charset=UTF-8', `\uFEFF${toolsList}`],
  ])('answers a %s body (%#) through the fast reader', async (type, body) => {
    const res = await post(url(), json({ 'content-type': type }), body);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { tools: expect.any(Array) } });
  });

  it('accepts JSON whitespace before the object and a body sent in many chunks', async () => {
    const res = await post(url(), json(), ` \r\n\t${toolsList}`);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { tools: expect.any(Array) } });
    const chunked = await post(url(), json(), `${' '.repeat(70_000)}${toolsList}`, true);
    expect(JSON.parse(chunked.body)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { tools: expect.any(Array) } });
  });

  it('still accepts a gzip-compressed body (read by body-parser, which inflates it)', async () => {
    const res = await post(url(), json({ 'content-encoding': 'gzip' }), gzipSync(toolsList));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ id: 1, result: { tools: expect.any(Array) } });
  });

  it.each([
    ['malformed JSON', '{"jsonrpc": '],
    ['a top-level string', '"tools/list"'],
    ['a top-level number', '42'],
    ['whitespace only', ' \n\t '],
    ['a no-break space before the object (not JSON whitespace)', `\u00A0${toolsList}`],
  ])('answers %s with a JSON-RPC parse error (400, -32700)', async (_name, body) => {
    const res = await post(url(), json(), body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('refuses a body over the limit with 413, whether its length is declared or it is streamed in chunks', async () => {
    const huge = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"${'a'.repeat(MAX_BODY_BYTES)}"}}`;
    for (const chunked of [false, true]) {
      const res = await post(url(), json(), huge, chunked);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: -32700, message: 'Request body too large' } });
    }
  });

  it('leaves other media types to the SDK transport, which answers 415', async () => {
    const res = await post(url(), { ...auth, 'content-type': 'text/plain' }, toolsList);
    expect(res.status).toBe(415);
  });
});

describe('firstNonSpace', () => {
  it('skips exactly the JSON whitespace (RFC 8259 §2) and nothing else', () => {
    expect(firstNonSpace(' \t\r\n{"a":1}')).toBe('{');
    expect(firstNonSpace('[1]')).toBe('[');
    expect(firstNonSpace('\u00A0{}')).toBe('\u00A0');
    expect(firstNonSpace('\u2028[]')).toBe('\u2028');
    expect(firstNonSpace(' \n ')).toBeUndefined();
    expect(firstNonSpace('')).toBeUndefined();
  });
});
