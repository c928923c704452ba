import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, obtainTokens, registerClient, tokenRequest } from './support/oauth-client.js';

// Headers a client might send hoping the authorization server records them as its address. Only X-Forwarded-For from
// a trusted proxy (TRUST_PROXY; the test client is on loopback) may set it, exactly as it does for Express's req.ip.
const SPOOFED = {
  'x-sso-bridge-client-ip': '198.51.100.61',
  'x-sso-bridge-unused': '198.51.100.62',
  'x-real-ip': '198.51.100.63',
  'true-client-ip': '198.51.100.64',
  'cf-connecting-ip': '198.51.100.65',
};
const SPOOFED_IPS = Object.values(SPOOFED);

describe.each(testDbKinds)('the client address inside the authorization server (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('records the address Express computes, and the request id, in token audit events; never an address from a header the client chose', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const { client, tokens } = await obtainTokens(app, t, user.id);
    const refresh = (headers: Record<string, string>, token: string) =>
      tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: token, client_id: client.client_id }, headers);
    const spoofed = await refresh(SPOOFED, tokens.body.refresh_token!);
    expect(spoofed.status).toBe(200);
    const forwarded = await refresh({ ...SPOOFED, 'x-forwarded-for': '203.0.113.9' }, spoofed.body.refresh_token!);
    expect(forwarded.status).toBe(200);
    await app.services.audit.flush();
    const events = await t.db.auditEvent.findMany({ where: { action: 'oauth.token.issue' }, orderBy: { seq: 'asc' } });
    const ips = events.map((e) => e.ip);
    expect(ips).toHaveLength(3);
    for (const ip of ips) expect(SPOOFED_IPS).not.toContain(ip);
    expect(ips[1]).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
    expect(ips[2]).toBe('203.0.113.9');
    // The event names the request whose log line it belongs to, as the events raised outside the provider do.
    for (const e of events) expect(e.requestId).toMatch(/\S/);
  });

  it('keeps the same address in the device code it stores (deviceInfo)', async () => {
    const t = await app.createTenant();
    const client = await registerClient(app, t, {
      client_name: 'Terminal', redirect_uris: [], response_types: [], grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    });
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/device_authorization`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...SPOOFED },
      body: new URLSearchParams({ client_id: client.client_id }).toString(),
    });
    expect(res.status).toBe(200);
    const row = await t.db.oidcPayload.findFirstOrThrow({ where: { model: 'DeviceCode' } });
    const ip = (row.payload as { deviceInfo?: { ip?: string } }).deviceInfo?.ip;
    expect(ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
  });
});
