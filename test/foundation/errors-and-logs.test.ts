import { Writable } from 'node:stream';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/http/error-handler.js';
import { requestLog } from '../../src/http/request-log.js';
import { jsonBody } from '../../src/http/body.js';
import { AppError } from '../../src/lib/errors.js';
import { redactPaths } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices } from '../../src/services.js';
import { openTestDatabase } from '../support/databases.js';
import { freePort, testMasterKey } from '../support/test-app.js';

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } }, stream) };
}

describe('the error handler', () => {
  let server: http.Server;
  let url: string;
  const { lines, logger } = captureLogger();
  beforeAll(async () => {
    const app = express();
    app.use(requestLog(logger));
    app.get('/boom', () => {
      throw new Error('database password=hunter2 at 10.0.0.5 exploded');
    });
    app.get('/teapot', () => {
      throw new AppError(418, 'teapot', 'I am a teapot');
    });
    app.post('/json', jsonBody('1kb'), (req, res) => res.json(req.body));
    app.use(errorHandler);
    server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('turns an unexpected error into a generic 500 with a trace id; details only in the log', async () => {
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; message: string; traceId: string };
    expect(body).toEqual({ error: 'server_error', message: 'Internal error', traceId: expect.any(String) });
    expect(JSON.stringify(body)).not.toMatch(/hunter2|exploded|\.ts:/);
    const logged = lines.find((l) => l.traceId === body.traceId);
    expect(JSON.stringify(logged)).toContain('exploded');
    // req.log lines carry the request id; the request's own line is an error line.
    expect(logged).toMatchObject({ reqId: body.traceId });
    expect(lines.find((l) => l.msg === 'request failed' && (l.req as { id: string }).id === body.traceId)).toMatchObject({ level: 50, res: { statusCode: 500 } });
  });

  it('keeps a sane incoming request id and replaces an insane one', async () => {
    const sane = await fetch(`${url}/teapot`, { headers: { 'x-request-id': 'trace.from-LB_1' } });
    expect(sane.headers.get('x-request-id')).toBe('trace.from-LB_1');
    const insane = await fetch(`${url}/teapot`, { headers: { 'x-request-id': `${'x'.repeat(200)}<script>` } });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('passes client mistakes through with their status and message', async () => {
    const res = await fetch(`${url}/teapot`);
    expect(res.status).toBe(418);
    expect(await res.json()).toEqual({ error: 'teapot', message: 'I am a teapot' });
  });

  it('answers malformed and oversized JSON with 400 and 413', async () => {
    const post = (body: string) => fetch(`${url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('{nope')).status).toBe(400);
    expect((await post(JSON.stringify({ a: 'x'.repeat(5000) }))).status).toBe(413);
  });
});

describe('request logs', () => {
  let server: RunningServer;
  const { lines, logger } = captureLogger();
  beforeAll(async () => {
    const port = await freePort();
    const config = loadConfig({ PORT: String(port), MASTER_KEY: testMasterKey(), DATA_DIR: '/tmp', NODE_ENV: 'test' });
    const database = await openTestDatabase('pglite');
    server = await startServer(await createServices(config, { logger, database }), { port, host: '127.0.0.1', adminEndpoint: false });
  });
  afterAll(() => server?.close(1000));

  it('carry the request id and never a header value: no Authorization, no cookies', async () => {
    await fetch(`${server.url}/readyz`, {
      headers: { authorization: 'Bearer super-secret-token', cookie: 'sb_session=secret-cookie', 'x-request-id': 'req-log-1' },
    });
    const line = lines.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-log-1');
    expect(line).toBeDefined();
    const text = JSON.stringify(lines);
    expect(text).not.toContain('super-secret-token');
    expect(text).not.toContain('secret-cookie');
    expect(line).toMatchObject({ msg: 'request completed', req: { method: 'GET', url: '/readyz' }, res: { statusCode: 200 } });
    expect(line!.req).not.toHaveProperty('headers');
  });

  it('never log the values of codes, states, tokens or SAML messages in URLs', async () => {
    await fetch(`${server.url}/readyz?code=auth-code-123&state=state-456&SAMLResponse=PHNhbWw%2B&page=2`, { headers: { 'x-request-id': 'req-log-2' } });
    const line = lines.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-log-2')!;
    const text = JSON.stringify(line);
    expect(text).not.toMatch(/auth-code-123|state-456|PHNhbWw/);
    expect((line.req as { url: string }).url).toBe('/readyz?code=%5Bredacted%5D&state=%5Bredacted%5D&SAMLResponse=%5Bredacted%5D&page=2');
  });

  it('close() finishes with idle keep-alive connections open', async () => {
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) => http.get(`${server.url}/healthz`, { agent }, (res) => res.resume().on('end', resolve)));
    await server.close(2000);
    agent.destroy();
    expect((await fetch(`${server.url}/healthz`).catch((e: Error) => e)) instanceof Error).toBe(true);
  });
});
