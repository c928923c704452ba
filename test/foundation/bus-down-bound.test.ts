import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConnection } from '../../src/db/open-database.js';
import { createApp } from '../../src/http/app.js';
import { CACHE_TRUST_MS } from '../../src/revocation/event-bus.js';
import { createScimToken, revokeScimToken } from '../../src/scim/scim-tokens.js';
import { createServices, type Services } from '../../src/services.js';
import { changeTenantStatus } from '../../src/tenants/change-tenant-status.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, obtainTokens } from '../oauth/support/oauth-client.js';

/**
 * Node B's LISTEN connection is lost and cannot be re-established while its database still answers — the case where
 * only the trust bound protects it. Every kind of cache B holds (verified access tokens, SCIM tokens, tenants) must
 * stop serving what node A changed meanwhile within CACHE_TRUST_MS, without any notification reaching B.
 */
describe.runIf(process.env.TEST_DATABASE_URL)('caches while the event bus is down (postgres)', () => {
  let app: TestApp;
  let b: { s: Services; url: string; close(): Promise<void> };
  const bus = { blocked: false, lose: undefined as ((err: Error) => void) | undefined };

  beforeAll(async () => {
    app = await startTestApp('postgres');
    const database = app.services.database;
    // B's own LISTEN goes through this wrapper: the test can cut it and keep it from coming back.
    const raw: RawConnection = {
      inProcess: database.raw.inProcess,
      query: (sql, params) => database.raw.query(sql, params),
      notify: (channel, payload) => database.raw.notify(channel, payload),
      listen: async (channel, onMessage, onLost) => {
        if (bus.blocked) throw new Error('LISTEN refused (test)');
        const listening = await database.raw.listen(channel, onMessage, onLost);
        bus.lose = onLost;
        return listening;
      },
    };
    const s = await createServices(app.config, { clock: app.clock, logger: pino({ level: 'silent' }), database: { ...database, raw } });
    const server = http.createServer(createApp(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await s.bus.start();
    b = {
      s,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        await s.bus.stop();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  });
  afterAll(async () => {
    await b?.close();
    await app?.close();
  });

  const mcpOnB = async (t: TenantCtx, token: string) =>
    (await fetch(`${b.url}/t/${t.slug}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    })).status;
  const scimOnB = async (t: TenantCtx, token: string) =>
    (await fetch(`${b.url}/t/${t.slug}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('obeys changes it never heard of within the bound, for tokens, SCIM tokens and tenants, and says it is not ready', async () => {
    // Cached on B: a user's access token, a SCIM token, and a tenant (with its own token).
    const t = await app.createTenant();
    const user = await createUser(t);
    const access = (await obtainTokens(app, t, user.id)).tokens.body.access_token!;
    const scim = await createScimToken(t, app.url);
    const gone = await app.createTenant();
    const goneUser = await createUser(gone);
    const goneAccess = (await obtainTokens(app, gone, goneUser.id)).tokens.body.access_token!;
    expect(await mcpOnB(t, access)).toBe(200);
    expect(await scimOnB(t, scim.token)).toBe(200);
    expect(await mcpOnB(gone, goneAccess)).toBe(200);

    // The bus of B goes down and stays down; its database still answers.
    bus.blocked = true;
    bus.lose!(new Error('connection terminated (test)'));
    expect(b.s.bus.state).toBe('down');
    expect((await fetch(`${b.url}/readyz`)).status).toBe(503);

    // A changes all three. Nothing reaches B.
    const since = Date.now();
    await app.services.revocation.revokeUser(t, user.id, 'scim.deactivated');
    await revokeScimToken(t, scim.id, app.clock);
    await app.services.bus.publish({ type: 'scim-token.revoked', tenantId: t.id, tokenId: scim.id });
    await changeTenantStatus(app.services, gone.slug, 'disable', { kind: 'system' });

    const refused = async (probe: () => Promise<number>, status: number) => {
      await expect.poll(probe, { timeout: CACHE_TRUST_MS + 2_000, interval: 50 }).toBe(status);
      return Date.now() - since;
    };
    const elapsed = [
      await refused(() => mcpOnB(t, access), 401),
      await refused(() => scimOnB(t, scim.token), 401),
      await refused(() => mcpOnB(gone, goneAccess), 404),
    ];
    for (const ms of elapsed) expect(ms).toBeLessThan(CACHE_TRUST_MS + 500);
    expect(b.s.bus.state).toBe('down');

    // The bus comes back by itself once LISTEN works again.
    bus.blocked = false;
    await expect.poll(async () => (await fetch(`${b.url}/readyz`)).status, { timeout: 15_000, interval: 100 }).toBe(200);
    expect(b.s.bus.state).toBe('listening');
  }, 60_000);
});
