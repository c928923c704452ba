import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { redactPaths } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { mcpSlugOf } from '../../src/mcp/mcp-endpoint.js';
import { createServices } from '../../src/services.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { setTenantStatus } from '../../src/tenants/manage-tenants.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';
import { freePort, testMasterKey } from '../support/test-app.js';

type Line = { msg?: string; reqId?: string; req?: { id?: string; url?: string; remoteAddress?: string }; res?: { statusCode?: number } };

function captureLogger() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } }, stream) };
}

describe('which paths are the MCP endpoint', () => {
  it('is /t/{slug}/mcp with trailing slashes and a query, in any case, as Express matched it; nothing longer', () => {
    for (const url of ['/t/acme/mcp', '/t/acme/mcp/', '/t/acme/mcp//', '/t/acme/mcp?x=1', '/t/acme/mcp/?x=1', '/t/acme/mcp?', '/T/acme/MCP']) {
      expect(mcpSlugOf(url), url).toBe('acme');
    }
    expect(mcpSlugOf('/t/a%2Fb/mcp')).toBe('a%2Fb');
    for (const url of ['/t/acme/mcp/extra', '/t/acme/mcpfoo', '/t//mcp', '//t/acme/mcp', '/t/acme/mcp%2F', '/t/acme/mcp;x', '/t/acme', '/mcp']) {
      expect(mcpSlugOf(url), url).toBeUndefined();
    }
  });
});

describe.each(testDbKinds)('the MCP endpoint in front of Express (%s)', (kind) => {
  let server: RunningServer;
  const { lines, logger } = captureLogger();
  const slug = 'endpoint-corp';
  const lineOf = (id: string) => vi.waitFor(() => lines.find((l) => l.req?.id === id && l.msg)!) as Promise<Line>;
  beforeAll(async () => {
    const port = await freePort();
    const config = loadConfig({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, MASTER_KEY: testMasterKey(), DATA_DIR: '/tmp', NODE_ENV: 'test' });
    const s = await createServices(config, { logger, database: await openTestDatabase(kind) });
    server = await startServer(s, { port, host: '127.0.0.1', adminEndpoint: false });
    await createTenant(s.db, { slug, name: 'Endpoint Corp' });
    await createTenant(s.db, { slug: 'gone-endpoint', name: 'Gone' });
    await setTenantStatus(s.db, 'gone-endpoint', 'disabled');
  });
  afterAll(() => server?.close(1000));

  const isMcpAnswer = (res: Response) => res.headers.get('content-security-policy') === "default-src 'none'; frame-ancestors 'none'";

  it('serves the exact path, a trailing slash and a query string (a bearer challenge, API headers)', async () => {
    for (const path of [`/t/${slug}/mcp`, `/t/${slug}/mcp/`, `/t/${slug}/mcp?x=1`]) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST' });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toMatch(/^Bearer resource_metadata=/);
      expect(isMcpAnswer(res), path).toBe(true);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('leaves /t/{slug}/mcp/extra and /t/{slug}/mcpfoo to Express, which answers its 404 with page headers', async () => {
    for (const path of [`/t/${slug}/mcp/extra`, `/t/${slug}/mcpfoo`]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: 'not_found', message: 'Not found' });
      expect(isMcpAnswer(res), path).toBe(false);
      expect(res.headers.get('content-security-policy')).toContain('frame-ancestors');
    }
  });

  it('answers unknown, malformed and disabled tenants with the 404 Express gives elsewhere', async () => {
    const express404 = await fetch(`${server.url}/t/no-such-tenant/api/me`);
    const expected = { status: express404.status, body: await express404.text() };
    for (const s of ['no-such-tenant', 'gone-endpoint', '%E0', 'a%2Fb']) {
      const res = await fetch(`${server.url}/t/${s}/mcp`, { method: 'POST', headers: { 'x-request-id': `unknown-${s.length}` } });
      expect({ status: res.status, body: await res.text() }, s).toEqual(expected);
      expect(isMcpAnswer(res), s).toBe(true);
    }
  });

  it('gives MCP requests a request id, one log line, and req.log lines carrying that id', async () => {
    const res = await fetch(`${server.url}/t/no-such-tenant/mcp?access_token=secret-in-url`, { headers: { 'x-request-id': 'mcp-log-1' } });
    expect(res.headers.get('x-request-id')).toBe('mcp-log-1');
    await res.text();
    const line = await lineOf('mcp-log-1');
    expect(line).toMatchObject({ msg: 'request completed', req: { url: '/t/no-such-tenant/mcp?access_token=%5Bredacted%5D' }, res: { statusCode: 404 } });
    expect(lines.filter((l) => l.req?.id === 'mcp-log-1')).toHaveLength(1);
    expect(lines.find((l) => l.reqId === 'mcp-log-1')).toMatchObject({ msg: 'client error' });
    expect(JSON.stringify(lines)).not.toContain('secret-in-url');
    const fresh = await fetch(`${server.url}/t/${slug}/mcp`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs the client address as Express computes req.ip (trust loopback, link-local and private proxies)', async () => {
    const cases: [string | undefined, string][] = [
      [undefined, '127.0.0.1'],
      ['203.0.113.7', '203.0.113.7'],
      ['203.0.113.7, 10.1.2.3', '203.0.113.7'],
      ['10.1.2.3, 203.0.113.9', '203.0.113.9'],
    ];
    for (const [i, [forwarded, ip]] of cases.entries()) {
      const headers = (id: string): Record<string, string> => ({ 'x-request-id': id, ...(forwarded && { 'x-forwarded-for': forwarded }) });
      await (await fetch(`${server.url}/t/${slug}/mcp`, { headers: headers(`ip-mcp-${i}`) })).text();
      await (await fetch(`${server.url}/t/${slug}/api/me`, { headers: headers(`ip-express-${i}`) })).text();
      const viaMcp = (await lineOf(`ip-mcp-${i}`)).req?.remoteAddress;
      expect(viaMcp, forwarded).toBe((await lineOf(`ip-express-${i}`)).req?.remoteAddress);
      expect(viaMcp?.replace(/^::ffff:/, ''), forwarded).toBe(ip);
    }
  });
});
