import http from 'node:http';
import { getEventListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamFetch } from '../../src/tools/upstream-fetch.js';
import { loopbackEgress } from '../support/loopback-egress.js';

describe('upstreamFetch: one request, one abort listener, for as long as it runs', () => {
  let server: http.Server;
  let url: string;
  const hanging: http.ServerResponse[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
        hanging.push(res);
      } else if (req.url === '/empty') res.writeHead(202).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of hanging) r.end();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('leaves no listener on the shared signal after JSON and empty answers, with the same status, headers and body', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 50; i++) {
      const res = await upstreamFetch(loopbackEgress)(`${url}/json`, { signal: shared.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ ok: true });
    }
    const empty = await upstreamFetch(loopbackEgress)(`${url}/empty`, { signal: shared.signal });
    expect(empty.status).toBe(202);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('keeps an SSE answer linked until it is aborted: the transport closing ends the stream', async () => {
    const shared = new AbortController();
    const res = await upstreamFetch(loopbackEgress)(`${url}/sse`, { signal: shared.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('data: one');
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    shared.abort();
    await expect(reader.read()).rejects.toThrow();
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('a signal already aborted aborts the request', async () => {
    const shared = new AbortController();
    shared.abort();
    await expect(upstreamFetch(loopbackEgress)(`${url}/json`, { signal: shared.signal })).rejects.toThrow();
  });
});
