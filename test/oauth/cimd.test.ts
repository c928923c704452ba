import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { allowCimdFetch, CIMD_FETCH_TIMEOUT_MS, cimdFetch, isSpecialUseAddress } from '../../src/oauth/cimd-fetch.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorize, createUser, mcpUrl, pkce, signedInBrowser, tokenRequest } from './support/oauth-client.js';
import { createTestCa, startCimdServer, type CimdServer, type TestCa } from './support/test-ca.js';

describe.each(testDbKinds)('client ID metadata documents (%s)', (kind) => {
  let app: TestApp;
  let cimd: CimdServer;
  let ca: TestCa;
  beforeAll(async () => {
    ca = createTestCa();
    cimd = await startCimdServer(ca);
    app = await startTestApp(kind, { DANGEROUSLY_ALLOW_CIMD_HOSTS: cimd.host, DANGEROUSLY_CIMD_CA_FILE: ca.caFile });
  });
  afterAll(async () => {
    await app?.close();
    await cimd?.close();
  });

  const redirectUri = 'http://127.0.0.1:4567/callback';
  const doc = (clientId: string, extra: Record<string, unknown> = {}) => ({
    client_id: clientId, client_name: 'CIMD Test App', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', ...extra,
  });

  async function tryClient(clientId: string) {
    const t = await app.createTenant();
    const user = await createUser(t);
    const b = await signedInBrowser(app, t, user.id);
    const { verifier, challenge } = pkce();
    const result = await authorize(app, b, {
      client_id: clientId, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge,
      code_challenge_method: 'S256', state: 'c', resource: mcpUrl(app, t),
    }, t);
    return { t, verifier, ...result };
  }

  it('registers a client by its metadata document URL and completes the flow', async () => {
    const clientId = `${cimd.origin}/apps/good.json`;
    cimd.route('/apps/good.json', { body: doc(clientId) });
    const { t, verifier, redirect, pages } = await tryClient(clientId);
    const consent = pages.find((p) => p.body.includes('csrf'))!.body;
    expect(consent).toContain('CIMD Test App');
    expect(consent).toContain(`Published by <strong>${cimd.host}</strong>`);
    const code = redirect?.searchParams.get('code');
    expect(code).toBeTruthy();
    const tokens = await tokenRequest(app, t, { grant_type: 'authorization_code', code: code!, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    expect((await app.services.accessTokens.verify(t, tokens.body.access_token!, mcpUrl(app, t)))?.clientId).toBe(clientId);
  });

  it('answers an authorization error for a document client with a page naming it, never a redirect (RFC 9700 §4.11.2)', async () => {
    const clientId = `${cimd.origin}/apps/errors.json`;
    cimd.route('/apps/errors.json', { body: doc(clientId, { client_name: 'Doc App', redirect_uris: ['https://landing.example/cb'] }) });
    const t = await app.createTenant();
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: 'https://landing.example/cb', state: 'x', prompt: 'none' })}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const body = await res.text();
    expect(body).toContain('<strong>Doc App</strong>');
    expect(body).toContain('<strong>landing.example</strong>');
  });

  it('refuses a document whose client_id differs from its URL', async () => {
    const clientId = `${cimd.origin}/apps/mismatch.json`;
    cimd.route('/apps/mismatch.json', { body: doc('https://attacker.example/app.json') });
    const { redirect, pages } = await tryClient(clientId);
    expect(redirect).toBeNull();
    expect(pages[0]!.status).toBe(400);
  });

  it('refuses a document that redirects, even to an allowed host serving a document that would be accepted', async () => {
    cimd.route('/apps/redirect.json', { redirectTo: 'http://169.254.169.254/latest/meta-data/' });
    // Followed, this redirect would end on a valid document for the *requested* client_id: only the refusal stops it.
    const followed = `${cimd.origin}/apps/redirect2.json`;
    cimd.route('/apps/redirect2.json', { redirectTo: `${cimd.origin}/apps/redirect-target.json` });
    cimd.route('/apps/redirect-target.json', { body: doc(followed) });
    for (const p of ['/apps/redirect.json', '/apps/redirect2.json']) {
      const { redirect, pages } = await tryClient(`${cimd.origin}${p}`);
      expect(redirect, p).toBeNull();
      expect(pages[0]!.status, p).toBe(400);
    }
    expect(cimd.hits.get('/apps/redirect2.json')).toBeGreaterThanOrEqual(1);
    expect(cimd.hits.get('/apps/redirect-target.json')).toBeUndefined();
  });

  it('the fetch hook refuses redirects and bounds the time itself, whatever options the library passes', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DANGEROUSLY_ALLOW_CIMD_HOSTS: cimd.host, DANGEROUSLY_CIMD_CA_FILE: ca.caFile });
    const fetchDoc = cimdFetch(config);
    cimd.route('/apps/hook-redirect.json', { redirectTo: `${cimd.origin}/apps/hook-target.json` });
    cimd.route('/apps/hook-target.json', { body: { client_id: 'x' } });
    for (const options of [{}, { redirect: 'follow' as const }]) {
      const res = await fetchDoc(`${cimd.origin}/apps/hook-redirect.json`, options);
      expect(res.status).toBe(302);
    }
    expect(cimd.hits.get('/apps/hook-target.json')).toBeUndefined();
    // No signal from the caller: our own bound still ends a server that never answers.
    cimd.route('/apps/hook-hang.json', { hang: true });
    const started = Date.now();
    await expect(fetchDoc(`${cimd.origin}/apps/hook-hang.json`, {})).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(CIMD_FETCH_TIMEOUT_MS - 100);
    expect(Date.now() - started).toBeLessThan(CIMD_FETCH_TIMEOUT_MS + 5_000);
  });

  it('never fetches from loopback, private, link-local or metadata addresses outside the allow-list', async () => {
    const port = Number(cimd.host.split(':')[1]);
    for (const url of [
      `https://127.0.0.1:${port + 1}/apps/good.json`,
      `https://localhost:${port}/apps/good.json`,
      'https://10.1.2.3/app.json',
      'https://169.254.169.254/latest/meta-data/',
      'https://[::1]/app.json',
      'https://192.168.1.1/app.json',
      'http://example.com/app.json',
    ]) {
      // Refused before any connection attempt (the provider's allowFetch hook), not by a failed or timed-out fetch.
      expect(await allowCimdFetch(app.services.config, url), url).toBe(false);
      const { redirect, pages } = await tryClient(url);
      expect(redirect, url).toBeNull();
      expect(pages[0]!.status, url).toBe(400);
    }
  });

  it('refuses the test-only allow-list in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', MASTER_KEY: 'mk:x', PUBLIC_URL: 'https://sso.example', DANGEROUSLY_ALLOW_CIMD_HOSTS: '127.0.0.1:1' }))
      .toThrow(/DANGEROUSLY_ALLOW_CIMD_HOSTS/);
    expect(() => loadConfig({ NODE_ENV: 'production', MASTER_KEY: 'mk:x', PUBLIC_URL: 'https://sso.example', DANGEROUSLY_CIMD_CA_FILE: '/tmp/ca.pem' }))
      .toThrow(/DANGEROUSLY_CIMD_CA_FILE/);
  });

  it('refuses documents that claim what only administrators grant, or name no client', async () => {
    for (const [p, extra] of [
      ['/apps/cc.json', { grant_types: ['authorization_code', 'client_credentials'] }],
      ['/apps/purpose.json', { x_sb_purpose: 'scim' }],
      ['/apps/secret.json', { token_endpoint_auth_method: 'client_secret_basic' }],
      // Claiming to be admin-registered would also turn its authorization errors into redirects (RFC 9700 §4.11.2).
      ['/apps/admin.json', { x_sb_admin_registered: true }],
      ['/apps/admin-false.json', { x_sb_admin_registered: false }],
      ['/apps/id-jag-idps.json', { x_sb_id_jag_idps: ['idp_x'] }],
      ['/apps/token-exchange.json', { grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'] }],
      // A document must name its client (the consent page shows that name).
      ['/apps/nameless.json', { client_name: undefined }],
      ['/apps/blank-name.json', { client_name: '  ' }],
    ] as const) {
      const clientId = `${cimd.origin}${p}`;
      cimd.route(p, { body: doc(clientId, extra) });
      const { redirect, pages } = await tryClient(clientId);
      expect(redirect, p).toBeNull();
      expect(pages[0]!.status, p).toBe(400);
    }
  });

  it('classifies special-use addresses, including IPv4-mapped IPv6', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::ffff:7f00:1', '::ffff:a9fe:a9fe', 'not-an-ip']) {
      expect(isSpecialUseAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) expect(isSpecialUseAddress(a), a).toBe(false);
  });

  it('allows a public https document address and nothing else', async () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect(await allowCimdFetch(config, 'https://93.184.216.34/app.json')).toBe(true);
    expect(await allowCimdFetch(config, 'https://[2606:4700::1111]/app.json')).toBe(true);
    expect(await allowCimdFetch(config, 'http://93.184.216.34/app.json')).toBe(false);
    expect(await allowCimdFetch(config, 'https://10.0.0.1/app.json')).toBe(false);
    expect(await allowCimdFetch(config, 'https://localhost/app.json')).toBe(false);
    expect(await allowCimdFetch(config, 'https://no-such-host.invalid/app.json')).toBe(false);
  });

  // The fetch options of the production code path (issue 8 §6): each test fails if its guard is removed.
  it('the fetch dispatcher refuses a socket to a special-use address that is not exactly on the allow-list', async () => {
    const other = await startCimdServer(ca); // same CA, same 127.0.0.1, another port: not allow-listed
    try {
      other.route('/doc.json', { body: { client_id: 'x' } });
      cimd.route('/apps/direct.json', { body: { client_id: 'y' } });
      const config = loadConfig({ NODE_ENV: 'test', DANGEROUSLY_ALLOW_CIMD_HOSTS: cimd.host, DANGEROUSLY_CIMD_CA_FILE: ca.caFile });
      const fetchDoc = cimdFetch(config);
      // The allowFetch pre-check is bypassed here (as DNS rebinding would): only the dispatcher stands in the way.
      await expect(fetchDoc(`${other.origin}/doc.json`, { redirect: 'manual' })).rejects.toThrow();
      await expect(fetchDoc(`https://localhost:${other.host.split(':')[1]}/doc.json`, { redirect: 'manual' })).rejects.toThrow();
      expect(other.hits.get('/doc.json')).toBeUndefined();
      // Control: the allow-listed ip:port is reached through the very same dispatcher.
      expect((await fetchDoc(`${cimd.origin}/apps/direct.json`, { redirect: 'manual' })).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('gives up on a document server that does not answer (timeout)', async () => {
    cimd.route('/apps/hang.json', { hang: true });
    const started = Date.now();
    const { redirect, pages } = await tryClient(`${cimd.origin}/apps/hang.json`);
    expect(redirect).toBeNull();
    expect(pages[0]!.status).toBe(400);
    expect(cimd.hits.get('/apps/hang.json')).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('refuses a document over 5 KB, with or without Content-Length', async () => {
    const big = (clientId: string) => doc(clientId, { client_name: 'x'.repeat(6 * 1024) });
    const declared = `${cimd.origin}/apps/big.json`;
    cimd.route('/apps/big.json', { body: big(declared) });
    const streamed = `${cimd.origin}/apps/big-chunked.json`;
    cimd.route('/apps/big-chunked.json', { chunked: JSON.stringify(big(streamed)) });
    for (const clientId of [declared, streamed]) {
      const { redirect, pages } = await tryClient(clientId);
      expect(redirect, clientId).toBeNull();
      expect(pages[0]!.status, clientId).toBe(400);
    }
  });
});
