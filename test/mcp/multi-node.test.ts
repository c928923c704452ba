import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase } from '../../src/db/open-database.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { createServices, type Services } from '../../src/services.js';
import { withDatabase } from '../support/global-setup.js';
import { freePort, startTestApp, type TestApp } from '../support/test-app.js';
import { obtainTokens } from '../oauth/support/oauth-client.js';
import { cli, createUser, startUpstream, type Upstream } from './support.js';

/**
 * Two nodes behind one PUBLIC_URL over one PostgreSQL database, no sticky sessions: a session started on one node
 * continues on the other, and changes made on one node reach the other through LISTEN/NOTIFY: its next request after
 * the event arrives sees them.
 */
describe.runIf(process.env.TEST_DATABASE_URL)('MCP on two nodes (postgres)', () => {
  let a: TestApp;
  let b: { services: Services; server: RunningServer; url: string };
  let upstream: Upstream;
  beforeAll(async () => {
    a = await startTestApp('postgres');
    const rows = await a.services.db.$queryRaw<{ name: string }[]>`SELECT current_database() AS name`;
    const database = await openDatabase({ kind: 'postgres', url: withDatabase(process.env.TEST_DATABASE_URL!, rows[0]!.name), poolSize: 3 });
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      PUBLIC_URL: a.url, // one public name for both nodes, as behind a load balancer
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'sso-bridge-node-b-')),
      MASTER_KEY: a.config.masterKey,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    });
    const services = await createServices(config, { clock: a.clock, logger: pino({ level: 'silent' }), database });
    b = { services, server: await startServer(services, { port, host: '127.0.0.1', adminEndpoint: false }), url: `http://127.0.0.1:${port}` };
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await b?.services.upstreams.close();
    await a?.services.upstreams.close();
    await b?.server.close(500);
    await upstream?.close();
    await a?.close();
  });

  it('serves one session from both nodes and propagates tool changes and revocation through the bus', async () => {
    const t = await a.createTenant();
    await cli(a, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    const user = await createUser(t, 'multi@example.com', ['Ops']);
    const token = (await obtainTokens(a, t, user)).tokens.body.access_token!;

    // The client talks to node B; its session id is then accepted by node A (stateless, vault-shared key).
    const client = new Client({ name: 'multi', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${b.url}/t/${t.slug}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((x) => x.name)).toEqual(['whoami']);
    const onA = (extra: Record<string, string> = {}) =>
      fetch(`${a.url}/t/${t.slug}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': transport.sessionId!, ...extra },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }),
      });
    expect((await onA()).status).toBe(200);

    // Approved on node A → the stream open on node B hears list_changed, and B lists the tool.
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await expect.poll(async () => {
      await cli(a, 'tool approve', { tenant: t.slug, tool: 'up__echo', group: ['Ops'] });
      return Promise.race([changed.then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
    }, { timeout: 5000 }).toBe(true);
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('up__echo');

    // Revoked on node A → node B (whose verifier cached the token) hears it on the bus and refuses the very next
    // request: no waiting for the cache's trust bound (5 s), and no wall-clock assertion (the machine may be loaded).
    const heard = new Promise<void>((resolve) => {
      const off = b.services.bus.subscribe((e) => {
        if (e.type === 'user.revoked' && e.userId === user) {
          off();
          resolve();
        }
      });
    });
    await a.services.revocation.revokeUser(t, user, 'admin.revoked');
    await heard;
    const next = await fetch(`${b.url}/t/${t.slug}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/list', params: {} }),
    });
    expect(next.status).toBe(401);
    await client.close().catch(() => undefined);
  });
});
