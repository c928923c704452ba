import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { googleRuntime } from '../../src/connectors/google/google-tokens.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startOidcIdp, type TestOidcIdp } from '../sso/support/oidc-idp.js';
import { tenantWithOidc } from '../sso/support/sso-fixtures.js';
import { HeadlessOAuthProvider } from '../mcp/oauth-provider.js';
import { cli, createUser } from '../mcp/support.js';
import { GoogleFake } from './support/google-fake.js';

/**
 * The acceptance flow with the real authorization server: corporate SSO → MCP SDK client (DCR, consent, token) →
 * `google__gmail_search` through domain-wide delegation as the signed-in user, then every way access ends.
 */
describe.each(testDbKinds)('Google connector end to end: SSO → MCP client → Gmail as the user (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  let google: GoogleFake;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = await startOidcIdp();
    idp.allowOrigin(app.url);
    google = await new GoogleFake(() => app.clock.now()).start();
    Object.assign(googleRuntime(app.services).retry, { baseDelayMs: 1, maxDelayMs: 5 });
  });
  afterAll(async () => {
    await google?.close();
    await idp?.close();
    await app?.close();
  });

  /** Signs `sub` in through the SDK client's OAuth flow (SSO at the IdP, consent) and returns the connected client. */
  async function signIn(t: TenantCtx, sub: string, email: string, port: number) {
    idp.accounts.set(sub, { sub, email, name: sub });
    idp.nextAccount = sub;
    const provider = new HeadlessOAuthProvider(`http://127.0.0.1:${port}/callback`);
    const mcpUrl = new URL(mcpResourceUrl(app.url, t));
    await expect(new Client({ name: 'e2e', version: '1' }).connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError);
    const callback = await provider.completeInBrowser();
    const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await transport.finishAuth(callback.searchParams.get('code')!);
    const client = new Client({ name: 'e2e', version: '1' });
    await client.connect(transport);
    return { client, provider };
  }

  it('Gmail search returns the signed-in user\'s mail only; another domain is refused; revoking the group grant, the tool or the user stops calls at once', async () => {
    const { t } = await tenantWithOidc(app, idp, { 'allowed-domain': ['acme.com', 'acme-labs.com'], 'no-jit': true });
    const sa = google.serviceAccount('e2e');
    google.delegate(sa.clientId, allGoogleScopes());
    for (const u of ['admin@acme.com', 'alice@acme.com', 'bob@acme.com', 'lab@acme-labs.com']) google.users.add(u);
    google.addMessage('alice@acme.com', { id: 'a1', from: 'ceo@acme.com', to: 'alice@acme.com', subject: 'Offsite agenda', body: 'see you there' });
    google.addMessage('bob@acme.com', { id: 'b1', from: 'ceo@acme.com', to: 'bob@acme.com', subject: 'Offsite agenda (Bob)', body: 'bob only' });
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', domain: ['acme.com'], 'api-root': google.url });
    const alice = await createUser(t, 'alice@acme.com', ['Sales']);
    await createUser(t, 'lab@acme-labs.com', ['Sales']);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__gmail_search', group: ['Sales'] });

    const { client, provider } = await signIn(t, 'alice', 'alice@acme.com', 53701);
    expect(provider.pages.find((p) => p.body.includes('csrf'))?.body).toContain('google__gmail_search');
    expect((await client.listTools()).tools.map((x) => x.name).sort()).toEqual(['google__gmail_search', 'whoami']);
    const found = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } });
    expect(found.structuredContent).toMatchObject({ messages: [{ id: 'a1', subject: 'Offsite agenda' }], nextPageToken: null });
    expect(JSON.stringify(found)).not.toContain('Bob');
    expect(google.apiRequests.every((r) => r.sub === 'alice@acme.com')).toBe(true);

    // A colleague of the IdP's other domain signs in fine but is not in the connector's Google domain.
    const lab = await signIn(t, 'lab', 'lab@acme-labs.com', 53702);
    const refused = await lab.client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toMatch(/not in this organisation's Google Workspace domains/);
    expect(google.apiRequests.some((r) => r.sub === 'lab@acme-labs.com')).toBe(false);
    await lab.client.close();

    // Revoking the group's grant: the very next call is refused.
    await cli(app, 'tool revoke', { tenant: t.slug, tool: 'google__gmail_search', group: ['Sales'] });
    await expect(client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } })).rejects.toThrow(/Unknown tool/);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__gmail_search', group: ['Sales'] });
    expect((await client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } })).isError).toBeFalsy();
    // Revoking the tool entirely.
    await cli(app, 'tool revoke', { tenant: t.slug, tool: 'google__gmail_search' });
    await expect(client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } })).rejects.toThrow(/Unknown tool/);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__gmail_search', group: ['Sales'] });
    expect((await client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } })).isError).toBeFalsy();
    // Revoking the user (what SCIM deactivation and directory sync trigger): the next request is refused outright.
    const calls = google.apiRequests.length;
    await app.services.revocation.revokeUser(t, alice, 'admin.revoked');
    await expect(client.callTool({ name: 'google__gmail_search', arguments: { query: 'offsite' } })).rejects.toThrow();
    expect(google.apiRequests.length).toBe(calls);
    await client.close().catch(() => undefined);
  });

  it('a user suspended in the Google directory loses MCP access at the next call once directory sync ran', async () => {
    const { t } = await tenantWithOidc(app, idp, { 'allowed-domain': ['acme.com'], 'no-jit': true });
    const sa = google.serviceAccount('e2e-sync');
    google.delegate(sa.clientId, allGoogleScopes());
    for (const u of ['admin@acme.com', 'carl@acme.com']) google.users.add(u);
    google.directory.length = 0;
    google.groups.length = 0;
    google.directory.push({ id: 'gc1', primaryEmail: 'carl@acme.com', name: { fullName: 'Carl Acme' } });
    google.groups.push({ id: 'gg1', email: 'eng@acme.com', name: 'Engineering', members: ['gc1'] });
    google.addMessage('carl@acme.com', { id: 'c1', from: 'ceo@acme.com', to: 'carl@acme.com', subject: 'Roadmap', body: 'q1' });
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    await cli(app, 'tenant settings', { tenant: t.slug, provisioning: 'directory-sync' });
    expect((await cli(app, 'connector sync-directory', { tenant: t.slug })).changes).toEqual([
      { op: 'create', kind: 'user', name: 'carl@acme.com' },
      { op: 'create', kind: 'group', name: 'Engineering', membersAdded: 1 },
    ]);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__gmail_search', group: ['Engineering'] });

    // Carl signs in through SSO (linked to the synced user by his e-mail) and reads his own mail through DWD.
    const { client } = await signIn(t, 'carl', 'carl@acme.com', 53703);
    const found = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'roadmap' } });
    expect(found.structuredContent).toMatchObject({ messages: [{ id: 'c1', subject: 'Roadmap' }] });

    google.directory[0]!.suspended = true;
    expect((await cli(app, 'connector sync-directory', { tenant: t.slug })).changes).toEqual([{ op: 'deactivate', kind: 'user', name: 'carl@acme.com' }]);
    const calls = google.apiRequests.length;
    const tokens = google.tokenRequests.length;
    await expect(client.callTool({ name: 'google__gmail_search', arguments: { query: 'roadmap' } })).rejects.toThrow();
    expect(google.apiRequests.length).toBe(calls);
    expect(google.tokenRequests.length).toBe(tokens);
    await client.close().catch(() => undefined);
  });
});
