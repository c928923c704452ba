import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { clientNetwork, rateRules } from '../../src/http/rate-limit.js';
import { MAX_UNUSED_CLIENTS, UNUSED_CLIENT_TTL_MS } from '../../src/oauth/registration-limit.js';
import { cleanupExpired } from '../../src/jobs/cleanup-expired.js';
import { createServices } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, mcpUrl, obtainTokens, pkce, registerClient, signedInBrowser, tokenRequest } from './support/oauth-client.js';
import { makeSamlIdp } from '../sso/support/saml-idp.js';
import { tenantWithSaml } from '../sso/support/sso-fixtures.js';

/** Issue 8 §6: unauthenticated writes are limited per tenant and client network, across nodes, with 429 + Retry-After. */
describe('client networks (unit)', () => {
  it.each([
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['203.0.113.9', '203.0.113.9'],
    [undefined, 'unknown'],
  ])('%s counts as %s', (ip, net) => {
    expect(clientNetwork(ip)).toBe(net);
  });

  it('keeps different /64s apart', () => {
    expect(clientNetwork('2001:db8:1:2::1')).not.toBe(clientNetwork('2001:db8:1:3::1'));
  });
});

describe.each(testDbKinds)('rate limits across nodes (%s)', (kind) => {
  let app: TestApp;
  let nodeB: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    app = await startTestApp(kind);
    // A second node over the same database, with its own in-memory state.
    const s = await createServices(app.config, { clock: app.clock, logger: pino({ level: 'silent' }), database: app.services.database });
    // Listening like any node (start-server.ts): it hears other nodes' 'rate.exhausted' (src/http/rate-view.ts).
    await s.bus.start();
    const server = http.createServer(createApp(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    nodeB = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        await s.bus.stop();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  });
  afterAll(async () => {
    await nodeB?.close();
    await app?.close();
  });
  afterEach(() => app.clock.set(new Date()));

  // The test client connects over loopback, a trusted proxy: X-Forwarded-For sets the client address.
  const register = (base: string, t: TenantCtx, ip: string) =>
    fetch(`${base}/t/${t.slug}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none' }),
    });

  it('counts registrations from one address on both nodes together', async () => {
    const t = await app.createTenant();
    for (let i = 0; i < 20; i++) expect((await register(i % 2 ? nodeB.url : app.url, t, '198.51.100.7')).status).toBe(201);
    for (const base of [app.url, nodeB.url]) {
      const limited = await register(base, t, '198.51.100.7');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    }
    expect((await register(nodeB.url, t, '198.51.100.8')).status).toBe(201);
    // Paired: the same address is not limited at another tenant.
    expect((await register(app.url, await app.createTenant(), '198.51.100.7')).status).toBe(201);
    app.clock.advance(10 * 60_000);
    expect((await register(app.url, t, '198.51.100.7')).status).toBe(201);
  });

  it('counts IPv6 clients by their /64, whatever address in it they use', async () => {
    const t = await app.createTenant();
    for (let i = 1; i <= 20; i++) expect((await register(app.url, t, `2001:db8:aa:bb::${i.toString(16)}`)).status).toBe(201);
    expect((await register(nodeB.url, t, '2001:db8:aa:bb:ffff:1:2:3')).status).toBe(429);
    expect((await register(nodeB.url, t, '2001:db8:aa:bc::1')).status).toBe(201);
  });

  it('caps registrations per tenant, whatever the number of client addresses', async () => {
    const t = await app.createTenant();
    for (let i = 0; i < 100; i++) expect((await register(i % 2 ? nodeB.url : app.url, t, `203.0.113.${i}`)).status).toBe(201);
    const limited = await register(app.url, t, '192.0.2.200');
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: 'too_many_requests' });
    expect((await register(app.url, await app.createTenant(), '192.0.2.200')).status).toBe(201);
  });

  it("one network over its limit neither uses up the tenant's budget nor writes rows; over the tenant cap, new networks write nothing", async () => {
    const t = await app.createTenant();
    const counters = () => app.services.db.rateLimitCounter.findMany({ where: { key: { contains: `|${t.id}` } }, orderBy: { key: 'asc' } });
    for (let i = 0; i < rateRules.dcrNet.limit; i++) expect((await register(i % 2 ? nodeB.url : app.url, t, '198.51.100.90')).status).toBe(201);
    // More refused requests from that network than the whole tenant may make: none of them is counted anywhere.
    for (let i = 0; i < rateRules.dcrTenant.limit; i++) expect((await register(i % 2 ? nodeB.url : app.url, t, '198.51.100.90')).status).toBe(429);
    const afterFlood = await counters();
    expect(afterFlood.map((c) => [c.key.split('|')[0], c.count])).toEqual([['dcr.net', rateRules.dcrNet.limit], ['dcr.tenant', rateRules.dcrNet.limit]]);
    expect((await register(nodeB.url, t, '198.51.100.91')).status).toBe(201);
    // The tenant at its cap: requests from ever new /64s are refused after one read, without a counter row each.
    await app.services.db.rateLimitCounter.updateMany({ where: { key: { startsWith: `dcr.tenant|${t.id}|` } }, data: { count: rateRules.dcrTenant.limit } });
    const rows = (await counters()).length;
    for (let i = 1; i <= 30; i++) expect((await register(i % 2 ? nodeB.url : app.url, t, `2001:db8:${i.toString(16)}:1::1`)).status).toBe(429);
    expect((await counters()).length).toBe(rows);
  });

  it('expires self-registered clients nobody granted; a granted one stays', async () => {
    const t = await app.createTenant();
    const unused = (await (await register(app.url, t, '198.51.100.20')).json()) as { client_id: string };
    const row = await t.db.oidcPayload.findFirstOrThrow({ where: { model: 'Client', id: unused.client_id } });
    expect(row.expiresAt!.getTime()).toBe(app.clock.now().getTime() + UNUSED_CLIENT_TTL_MS);
    const { client } = await obtainTokens(app, t, (await createUser(t)).id);
    expect((await t.db.oidcPayload.findFirstOrThrow({ where: { model: 'Client', id: client.client_id } })).expiresAt).toBeNull();
    app.clock.advance(UNUSED_CLIENT_TTL_MS + 25 * 3_600_000);
    await cleanupExpired(app.services.db, app.clock);
    expect((await t.db.oidcPayload.findMany({ where: { model: 'Client' } })).map((c) => c.id)).toEqual([client.client_id]);
  });

  it(`refuses registration while ${MAX_UNUSED_CLIENTS} unused clients wait in the tenant`, async () => {
    const t = await app.createTenant();
    const expiresAt = new Date(app.clock.now().getTime() + 3_600_000);
    await t.db.oidcPayload.createMany({
      data: Array.from({ length: MAX_UNUSED_CLIENTS }, (_, i) => ({ tenantId: t.id, model: 'Client', id: `dcr_${i}`, payload: {}, expiresAt })),
    });
    const res = await register(app.url, t, '198.51.100.30');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3600');
    expect((await register(app.url, await app.createTenant(), '198.51.100.30')).status).toBe(201);
  });

  it('counts a failed token request before its response reaches the client', async () => {
    const t = await app.createTenant();
    const failures = () => app.services.db.rateLimitCounter.findMany({ where: { key: { startsWith: `token-fail.tenant|${t.id}|` } } });
    for (let i = 1; i <= 5; i++) {
      const res = await fetch(`${i % 2 ? nodeB.url : app.url}/t/${t.slug}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.77' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'nobody' }).toString(),
      });
      expect(res.status).toBe(401);
      // Read as soon as the answer arrives: a count written after the response would race this read.
      expect((await failures()).reduce((sum, row) => sum + row.count, 0)).toBe(i);
    }
  });

  it('answers 429 to a network whose token requests failed too often, on every node; others are served', async () => {
    const t = await app.createTenant();
    const bad = (base: string, ip: string) =>
      fetch(`${base}/t/${t.slug}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'nobody' }).toString(),
      });
    for (let i = 0; i < 60; i++) expect((await bad(i % 2 ? nodeB.url : app.url, '2001:db8:77:1::5')).status).toBeGreaterThanOrEqual(400);
    const limited = await bad(nodeB.url, '2001:db8:77:1::99');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: 'too_many_requests' });
    expect((await bad(app.url, '2001:db8:77:2::5')).status).toBe(401);
    // Another tenant is not affected; successful requests are never counted.
    const other = await app.createTenant();
    const { tokens, client } = await obtainTokens(app, other, (await createUser(other)).id);
    let rt = tokens.body.refresh_token!;
    for (let i = 0; i < 3; i++) {
      const ok = await tokenRequest(app, other, { grant_type: 'refresh_token', refresh_token: rt, client_id: client.client_id }, { 'x-forwarded-for': '2001:db8:77:1::5' });
      expect(ok.status).toBe(200);
      rt = ok.body.refresh_token!;
    }
  });
  it('revocation and introspection count failed client authentication with the token endpoint, and are answered 429 with it', async () => {
    const t = await app.createTenant();
    const post = (base: string, path: string, ip: string, body: Record<string, string>, auth?: string) =>
      fetch(`${base}/t/${t.slug}/oauth/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...(auth && { authorization: auth }) },
        body: new URLSearchParams(body).toString(),
      });
    const guess = `Basic ${Buffer.from('nobody:wrong-secret').toString('base64')}`;
    // Wrong secrets at both endpoints (and one metadata-document client id, which would be fetched), on both nodes.
    for (let i = 0; i < 60; i++) {
      const [path, body] = i % 3 === 0 ? ['revoke', { token: 'x' }] : i % 3 === 1 ? ['introspect', { token: 'x' }] : ['revoke', { token: 'x', client_id: `https://cimd.example/apps/${i}.json` }];
      const res = await post(i % 2 ? nodeB.url : app.url, path as string, '2001:db8:78:1::5', body as Record<string, string>, path === 'introspect' || i % 3 === 0 ? guess : undefined);
      expect(res.status, `${i} ${path}`).toBeGreaterThanOrEqual(400);
    }
    for (const path of ['revoke', 'introspect', 'token']) {
      const limited = await post(app.url, path, '2001:db8:78:1::77', { token: 'x', grant_type: 'refresh_token', refresh_token: 'x' }, guess);
      expect(limited.status, path).toBe(429);
      expect(limited.headers.get('cache-control')).toBe('no-store');
    }
    // Another network is served.
    expect((await post(nodeB.url, 'introspect', '2001:db8:78:2::5', { token: 'x' }, guess)).status).toBe(401);
  });

  // Issue 8 §6: starting a flow writes a row before anyone signed in (LoginState, Interaction, DeviceCode).
  it('counts unauthenticated flow starts (SSO login, /authorize, device authorization) on both nodes together; 429 + Retry-After writes nothing', async () => {
    const { t } = await tenantWithSaml(app, makeSamlIdp());
    const client = await registerClient(app, t, { grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'] });
    const ip = '2001:db8:5:6::1';
    const { challenge } = pkce();
    const authorizeQuery = new URLSearchParams({ client_id: client.client_id, response_type: 'code', redirect_uri: client.redirect_uris[0]!, code_challenge: challenge, code_challenge_method: 'S256', state: 's', resource: mcpUrl(app, t) });
    const starts = {
      saml: (base: string, from: string, cookie = '') => fetch(`${base}/t/${t.slug}/saml/login`, { redirect: 'manual', headers: { 'x-forwarded-for': from, cookie } }),
      authorize: (base: string, from: string, cookie = '') => fetch(`${base}/t/${t.slug}/oauth/authorize?${authorizeQuery}`, { redirect: 'manual', headers: { 'x-forwarded-for': from, cookie } }),
      device: (base: string, from: string) =>
        fetch(`${base}/t/${t.slug}/oauth/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from }, body: new URLSearchParams({ client_id: client.client_id }).toString() }),
    };
    const counter = async () => (await app.services.db.rateLimitCounter.findMany({ where: { key: { startsWith: `start.net|${t.id}|${clientNetwork(ip)}|` } } }))[0]?.count ?? 0;
    // Real requests on both nodes, from addresses of one /64, count on one counter.
    expect((await starts.saml(app.url, ip)).status).toBe(303);
    expect((await starts.authorize(nodeB.url, '2001:db8:5:6::2')).status).toBe(303);
    expect((await starts.device(app.url, '2001:db8:5:6:ffff::3')).status).toBe(200);
    expect(await counter()).toBe(3);
    // Bring the network to its limit (as many requests would), then every kind of start is refused on either node.
    await app.services.db.rateLimitCounter.updateMany({ where: { key: { startsWith: `start.net|${t.id}|${clientNetwork(ip)}|` } }, data: { count: rateRules.startNet.limit } });
    const rowsBefore = { states: await t.db.loginState.count(), payloads: await t.db.oidcPayload.count() };
    for (const res of [await starts.saml(nodeB.url, ip), await starts.authorize(app.url, ip), await starts.device(nodeB.url, ip)]) {
      expect(res.status).toBe(429);
      expect(res.headers.get('location')).toBeNull();
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(rateRules.startNet.windowMs / 1000);
    }
    expect({ states: await t.db.loginState.count(), payloads: await t.db.oidcPayload.count() }).toEqual(rowsBefore);
    // Another network, and a signed-in browser's authorization request, are served.
    expect((await starts.saml(app.url, '2001:db8:5:7::1')).status).toBe(303);
    const signedIn = await signedInBrowser(app, t, (await createUser(t)).id);
    expect((await starts.authorize(nodeB.url, ip, signedIn.cookieHeader())).status).toBe(303);
    app.clock.advance(rateRules.startNet.windowMs);
    expect((await starts.saml(nodeB.url, ip)).status).toBe(303);
  });

  it('caps unauthenticated flow starts per tenant, whatever the number of networks', async () => {
    const { t } = await tenantWithSaml(app, makeSamlIdp());
    const samlLogin = (from: string) => fetch(`${app.url}/t/${t.slug}/saml/login`, { redirect: 'manual', headers: { 'x-forwarded-for': from } });
    expect((await samlLogin('203.0.113.50')).status).toBe(303);
    await app.services.db.rateLimitCounter.updateMany({ where: { key: { startsWith: `start.tenant|${t.id}|` } }, data: { count: rateRules.startTenant.limit } });
    const limited = await samlLogin('198.51.100.51');
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('Too many sign-in attempts');
    // Paired: another tenant is served from the same network.
    const other = await tenantWithSaml(app, makeSamlIdp());
    expect((await fetch(`${app.url}/t/${other.t.slug}/saml/login`, { redirect: 'manual', headers: { 'x-forwarded-for': '198.51.100.51' } })).status).toBe(303);
  });
});
