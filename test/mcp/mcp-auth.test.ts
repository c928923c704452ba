import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_SCOPE, mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { connect, createUser, useFakeVerifier, type FakeVerifier } from './support.js';

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const post = (url: string, headers: Record<string, string>, body: unknown = initialize) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });

describe.each(testDbKinds)('MCP endpoint authorization (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  beforeAll(async () => {
    app = await startTestApp(kind);
    fake = useFakeVerifier(app);
  });
  afterAll(() => app?.close());

  it('answers a request without a token with 401 and an absolute resource_metadata challenge, no error attribute', async () => {
    const t = await app.createTenant();
    const res = await post(mcpResourceUrl(app.url, t), {});
    expect(res.status).toBe(401);
    const prm = `${app.url}/.well-known/oauth-protected-resource/t/${t.slug}/mcp`;
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${prm}", scope="${MCP_SCOPE}"`);
  });

  it('serves RFC 9728 metadata whose resource is byte-identical to the MCP URL, with CORS', async () => {
    const t = await app.createTenant();
    const res = await fetch(`${app.url}/.well-known/oauth-protected-resource/t/${t.slug}/mcp`, { headers: { origin: 'https://claude.ai' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await res.json()) as { scopes_supported: string[] };
    expect(body).toMatchObject({
      resource: `${app.url}/t/${t.slug}/mcp`,
      authorization_servers: [`${app.url}/t/${t.slug}`],
      bearer_methods_supported: ['header'],
      scopes_supported: [MCP_SCOPE],
    });
    expect(body.scopes_supported).not.toContain('offline_access');
    const preflight = await fetch(`${app.url}/.well-known/oauth-protected-resource/t/${t.slug}/mcp`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect((await fetch(`${app.url}/.well-known/oauth-protected-resource/t/no-such-tenant/mcp`)).status).toBe(404);
  });

  it('refuses an unknown token with 401 invalid_token', async () => {
    const t = await app.createTenant();
    const res = await post(mcpResourceUrl(app.url, t), { authorization: 'Bearer not-a-token' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", scope="mcp:tools", error="invalid_token"/);
  });

  it("refuses another tenant's token and a token for another resource (SCIM) with 401", async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const userA = await createUser(a, 'ann@a.example');
    const tokenA = fake.issue(a, userA);
    expect((await post(mcpResourceUrl(app.url, a), { authorization: `Bearer ${tokenA}` })).status).toBe(200);
    expect((await post(mcpResourceUrl(app.url, b), { authorization: `Bearer ${tokenA}` })).status).toBe(401);
    const scimToken = fake.issue(a, null, { audience: `${app.url}/t/${a.slug}/scim/v2`, scopes: ['scim'] });
    const res = await post(mcpResourceUrl(app.url, a), { authorization: `Bearer ${scimToken}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses a client-credentials token (no user) even if its audience were the MCP URL', async () => {
    const t = await app.createTenant();
    const token = fake.issue(t, null);
    expect((await post(mcpResourceUrl(app.url, t), { authorization: `Bearer ${token}` })).status).toBe(401);
  });

  it('refuses an expired token (clock advanced past expiry)', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'exp@example.com');
    const token = fake.issue(t, user, { expiresAt: new Date(app.clock.now().getTime() + 60_000) });
    expect((await post(mcpResourceUrl(app.url, t), { authorization: `Bearer ${token}` })).status).toBe(200);
    app.clock.advance(61_000);
    expect((await post(mcpResourceUrl(app.url, t), { authorization: `Bearer ${token}` })).status).toBe(401);
  });

  it('answers a token without the MCP scope with 403 insufficient_scope and the union of scopes', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'scope@example.com');
    const token = fake.issue(t, user, { scopes: ['openid'] });
    const res = await post(mcpResourceUrl(app.url, t), { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain(`scope="openid ${MCP_SCOPE}"`);
    expect(challenge).toContain('resource_metadata="');
  });

  it('refuses a token in the query string, even a valid one, and does not accept it as a credential', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'query@example.com');
    const token = fake.issue(t, user);
    const res = await post(`${mcpResourceUrl(app.url, t)}?access_token=${token}`, {});
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    const both = await post(`${mcpResourceUrl(app.url, t)}?access_token=${token}`, { authorization: `Bearer ${token}` });
    expect(both.status).toBe(400);
  });

  it('refuses an Origin from another site with 403 and accepts our own origin and no Origin', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'origin@example.com');
    const token = fake.issue(t, user);
    const auth = { authorization: `Bearer ${token}` };
    expect((await post(mcpResourceUrl(app.url, t), { ...auth, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(mcpResourceUrl(app.url, t), { ...auth, origin: 'null' })).status).toBe(403);
    expect((await post(mcpResourceUrl(app.url, t), { ...auth, origin: app.url })).status).toBe(200);
    expect((await post(mcpResourceUrl(app.url, t), auth)).status).toBe(200);
  });

  it('checks the bearer on every request of a session, and binds the session id to its user and client', async () => {
    const t = await app.createTenant();
    const alice = await createUser(t, 'alice@example.com');
    const bob = await createUser(t, 'bob@example.com');
    const aliceToken = fake.issue(t, alice);
    const { client, transport } = await connect(app, t, aliceToken);
    const sessionId = transport.sessionId;
    expect(sessionId).toMatch(/^[\x21-\x7e]+$/);
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('whoami');

    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'mcp-session-id': sessionId!, 'mcp-protocol-version': '2025-11-25' });
    expect((await post(mcpResourceUrl(app.url, t), headers(aliceToken), list)).status).toBe(200);
    // Bob's valid token with Alice's session id: 404, as if the session did not exist.
    expect((await post(mcpResourceUrl(app.url, t), headers(fake.issue(t, bob)), list)).status).toBe(404);
    // Alice through another client: also 404.
    expect((await post(mcpResourceUrl(app.url, t), headers(fake.issue(t, alice, { clientId: 'client-b' })), list)).status).toBe(404);
    // A forged id: 404. No token at all: 401 even with a valid session id.
    expect((await post(mcpResourceUrl(app.url, t), { ...headers(aliceToken), 'mcp-session-id': 'abc.def' }, list)).status).toBe(404);
    const noToken = await post(mcpResourceUrl(app.url, t), { 'mcp-session-id': sessionId!, 'mcp-protocol-version': '2025-11-25' }, list);
    expect(noToken.status).toBe(401);
    // DELETE (session termination) follows the same rules: another user's id → 404, the owner's → 200.
    const del = (token: string) => fetch(mcpResourceUrl(app.url, t), { method: 'DELETE', headers: headers(token) });
    expect((await del(fake.issue(t, bob))).status).toBe(404);
    expect((await del(aliceToken)).status).toBe(200);
    await client.close();
  });

  it('sends the API security headers (OWASP REST set) on every answer, helmet\'s page set only elsewhere', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'headers@example.com');
    const ok = await post(mcpResourceUrl(app.url, t), { authorization: `Bearer ${fake.issue(t, user)}` }, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const refused = await post(mcpResourceUrl(app.url, t), {});
    const unknownTenant = await post(`${app.url}/t/no-such-tenant/mcp`, {});
    expect([ok.status, refused.status, unknownTenant.status]).toEqual([200, 401, 404]);
    for (const res of [ok, refused, unknownTenant]) {
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.headers.get('cross-origin-opener-policy')).toBeNull();
    }
    // A page of the same tenant keeps the full set.
    const page = await fetch(`${app.url}/t/${t.slug}/login`, { redirect: 'manual' });
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('answers malformed JSON with a JSON-RPC parse error, never a stack', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'json@example.com');
    const res = await fetch(mcpResourceUrl(app.url, t), {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.issue(t, user)}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc": ',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: number } };
    expect(body.error.code).toBe(-32700);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});
