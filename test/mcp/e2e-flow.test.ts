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

/**
 * The acceptance flow, driven by the MCP SDK's own client and OAuthClientProvider: 401 → PRM → AS metadata →
 * registration → corporate SSO (oidc-provider as the IdP) → consent → token → tools/list → tools/call on an upstream
 * → refresh → SCIM deactivation → the next call is refused and the refresh token is dead.
 */
describe.each(testDbKinds)('end to end with the MCP SDK client (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  let upstream: Upstream;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = await startOidcIdp();
    idp.allowOrigin(app.url);
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await upstream?.close();
    await idp?.close();
    await app?.close();
  });

  it('DCR client: discovery, SSO, consent, tools, refresh, SCIM deactivation', async () => {
    // A SCIM-managed tenant: users and groups come from SCIM; SSO links by e-mail and never creates users.
    const { t } = await tenantWithOidc(app, idp, { 'allowed-domain': ['example.com'], 'no-jit': true });
    await cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: upstream.url, header: ['X-Api-Key: upstream-key'] });
    idp.accounts.set('alice', { sub: 'alice', email: 'alice@example.com', name: 'Alice' });
    idp.nextAccount = 'alice';
    const mcpUrl = new URL(mcpResourceUrl(app.url, t));
    const provider = new HeadlessOAuthProvider('http://127.0.0.1:53682/callback');

    // 1. No token: the SDK gets 401, discovers PRM and the AS, registers (DCR), and asks for a browser.
    const first = new Client({ name: 'e2e', version: '1.0.0' });
    await expect(first.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.clientInformation()?.client_id).toBeTruthy();
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
  });
});
