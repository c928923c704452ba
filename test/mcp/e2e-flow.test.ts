import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startOidcIdp, type TestOidcIdp } from '../sso/support/oidc-idp.js';
import { tenantWithOidc } from '../sso/support/sso-fixtures.js';
import { HeadlessOAuthProvider } from './oauth-provider.js';
import { cli, startUpstream, type Upstream } from './support.js';
import { makeTestCa } from './test-ca.js';

/**
 * The acceptance flow, driven by the MCP SDK's own client and OAuthClientProvider: 401 → PRM → AS metadata →
 * registration → corporate SSO (oidc-provider as the IdP) → consent → token → tools/list → tools/call on an upstream
 * → refresh → SCIM deactivation → the next call is refused and the refresh token is dead.
 */
interface Env {
  app: TestApp;
  idp: TestOidcIdp;
  upstream: Upstream;
}

async function startEnv(kind: (typeof testDbKinds)[number], env: Record<string, string> = {}): Promise<Env> {
  const app = await startTestApp(kind, env);
  const idp = await startOidcIdp();
  idp.allowOrigin(app.url);
  return { app, idp, upstream: await startUpstream() };
}

async function stopEnv(e: Env | undefined) {
  await e?.app.services.upstreams.close();
  await e?.upstream.close();
  await e?.idp.close();
  await e?.app.close();
}

async function driveFlow({ app, idp, upstream }: Env, provider: HeadlessOAuthProvider) {
  // A SCIM-managed tenant: users and groups come from SCIM; SSO links by e-mail and never creates users.
  const { t } = await tenantWithOidc(app, idp, { 'allowed-domain': ['example.com'], 'no-jit': true });
  await cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: upstream.url, header: ['X-Api-Key: upstream-key'] });
  idp.accounts.set('alice', { sub: 'alice', email: 'alice@example.com', name: 'Alice' });
  idp.nextAccount = 'alice';
  const mcpUrl = new URL(mcpResourceUrl(app.url, t));

  // 1. No token: the SDK gets 401, discovers PRM and the AS, registers (DCR), and asks for a browser.
  const first = new Client({ name: 'e2e', version: '1.0.0' });
  await expect(first.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.clientInformation()?.client_id).toBeTruthy();
  if (provider.clientMetadataUrl) expect(provider.clientInformation()?.client_id).toBe(provider.clientMetadataUrl);
  const authUrl = provider.authorizationUrl!;
  expect(authUrl.href.startsWith(`${app.url}/t/${t.slug}/`)).toBe(true);
  expect(authUrl.searchParams.get('resource')).toBe(mcpUrl.href);
  expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');

  // 2. IT provisions Alice and the Engineering group by SCIM; the admin approves the tool for Engineering.
  const scim = await createScimToken(t, app.url);
  const scimHeaders = { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' };
  const scimPost = async (path: string, body: Record<string, unknown>) => {
    const res = await fetch(`${app.url}/t/${t.slug}/scim/v2/${path}`, { method: 'POST', headers: scimHeaders, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string };
  };
  const alice = await scimPost('Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'alice@example.com',
    name: { givenName: 'Alice', familyName: 'Liddell' },
    emails: [{ value: 'alice@example.com', primary: true, type: 'work' }],
    active: true,
  });
  await scimPost('Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineering', members: [{ value: alice.id }] });
  await cli(app, 'tool approve', { tenant: t.slug, tool: 'crm__echo', group: ['Engineering'] });

  // 3. Browser: SSO at the corporate IdP, consent page listing the tools, redirect back with a code.
  const callback = await provider.completeInBrowser();
  const consent = provider.pages.find((p) => p.body.includes('csrf'));
  expect(consent?.body).toContain('E2E MCP client');
  expect(consent?.body).toContain('crm__echo');
  expect(callback.searchParams.get('iss')).toBe(`${app.url}/t/${t.slug}`);
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  await transport.finishAuth(callback.searchParams.get('code')!);
  expect(provider.tokens()?.refresh_token).toBeTruthy();

  // 4. Connected: tools/list shows exactly the approved tools; tools/call reaches the upstream without our token.
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  await client.connect(transport);
  expect((await client.listTools()).tools.map((x) => x.name).sort()).toEqual(['crm__echo', 'whoami']);
  const before = upstream.seen.length;
  const echoed = await client.callTool({ name: 'crm__echo', arguments: { text: 'hello' } });
  expect(echoed.content).toEqual([{ type: 'text', text: 'echo: hello' }]);
  for (const h of upstream.seen.slice(before)) {
    expect(h.authorization).toBeUndefined();
    expect(h['x-api-key']).toBe('upstream-key');
  }
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  expect(who.structuredContent).toMatchObject({ user: { email: 'alice@example.com' }, groups: ['Engineering'] });

  // 5. Refresh: the access token stops working; the SDK refreshes (rotation) and retries transparently.
  const firstRefresh = provider.tokens()!.refresh_token!;
  provider.spoilAccessToken();
  expect((await client.callTool({ name: 'crm__echo', arguments: { text: 'again' } })).content).toEqual([{ type: 'text', text: 'echo: again' }]);
  const latest = provider.tokens()!;
  expect(latest.access_token).not.toBe('spoiled');
  expect(latest.refresh_token).toBeTruthy();
  expect(latest.refresh_token).not.toBe(firstRefresh);

  // 6. IT deactivates Alice through SCIM.
  const patch = await fetch(`${app.url}/t/${t.slug}/scim/v2/Users/${alice.id}`, {
    method: 'PATCH',
    headers: scimHeaders,
    body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] }),
  });
  expect(patch.status).toBe(200);

  // 7. The very next request is refused (raw and through the SDK client), and the refresh token is dead.
  const raw = await fetch(mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${latest.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
  });
  expect(raw.status).toBe(401);
  expect(raw.headers.get('www-authenticate')).toContain('error="invalid_token"');
  await expect(client.callTool({ name: 'crm__echo', arguments: { text: 'after' } })).rejects.toThrow();
  const refresh = await fetch(`${app.url}/t/${t.slug}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: latest.refresh_token!, client_id: provider.clientInformation()!.client_id }),
  });
  expect(refresh.status).toBe(400);
  expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
  await client.close().catch(() => undefined);
}

describe.each(testDbKinds)('end to end with the MCP SDK client, DCR (%s)', (kind) => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv(kind);
  });
  afterAll(() => stopEnv(env));

  it('dynamic registration: discovery, SSO, consent, tools, refresh, SCIM deactivation', async () => {
    await driveFlow(env, new HeadlessOAuthProvider('http://127.0.0.1:53682/callback'));
  });
});

describe.each(testDbKinds)('end to end with the MCP SDK client, CIMD (%s)', (kind) => {
  let env: Env;
  let cimd: https.Server;
  let documentUrl: string;
  beforeAll(async () => {
    const ca = makeTestCa();
    // The client's metadata document, served over https by a CA only the app trusts (test-only allow-list).
    cimd = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
      if (req.url !== '/oauth/client.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(
        JSON.stringify({
          client_id: documentUrl,
          client_name: 'E2E MCP client',
          redirect_uris: ['http://127.0.0.1:53683/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        }),
      );
    });
    await new Promise<void>((r) => cimd.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(cimd.address() as AddressInfo).port}`;
    documentUrl = `https://${host}/oauth/client.json`;
    env = await startEnv(kind, { DANGEROUSLY_ALLOW_CIMD_HOSTS: host, DANGEROUSLY_CIMD_CA_FILE: ca.caFile });
  });
  afterAll(async () => {
    await stopEnv(env);
    await new Promise((r) => cimd?.close(r));
  });

  it('client ID metadata document: the client id is the document URL, no registration call', async () => {
    await driveFlow(env, new HeadlessOAuthProvider('http://127.0.0.1:53683/callback', documentUrl));
  });
});
