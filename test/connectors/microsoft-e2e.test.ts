import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ENTRA_TOKEN_OWNER, loadEntraToken } from '../../src/connectors/microsoft/entra-token-store.js';
import { microsoftRuntime } from '../../src/connectors/microsoft/microsoft-tokens.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { HeadlessOAuthProvider } from '../mcp/oauth-provider.js';
import { cli, createUser } from '../mcp/support.js';
import { EntraFake, trustTestCa, type EntraUser } from './support/entra-fake.js';

const CLAIMS = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}';

/**
 * The acceptance flow of issue 11 with the real authorization server and the real msal-node: Entra-style OIDC SSO
 * (the user's refresh token captured) → MCP SDK client → `microsoft__mail_search` through OBO as that user; another
 * user cannot read it; consent missing and a claims challenge become the documented tool errors; logout and SCIM
 * deprovisioning delete the stored refresh token.
 */
describe.each(testDbKinds)('Microsoft connector end to end: Entra SSO → MCP client → Outlook as the user (%s)', (kind) => {
  let app: TestApp;
  let entra: EntraFake;
  const tid = crypto.randomUUID();
  beforeAll(async () => {
    app = await startTestApp(kind);
    entra = await new EntraFake(() => app.clock.now()).start();
    trustTestCa(entra.ca);
    Object.assign(microsoftRuntime(app.services).retry, { baseDelayMs: 1, maxDelayMs: 2_000 });
  });
  afterAll(async () => {
    await entra?.close();
    await app?.close();
  });

  async function setup() {
    const t = await app.createTenant();
    const conn = (await cli(app, 'idp add-oidc', { tenant: t.slug, issuer: entra.issuer(tid), 'client-id': entra.clientId, 'client-secret': entra.clientSecret, name: 'Entra', 'allowed-domain': ['contoso.com'], 'no-jit': true })) as { id: string };
    const added = await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, 'authority-host': entra.origin, 'graph-endpoint': entra.origin });
    return { t, conn, added };
  }

  async function signIn(t: TenantCtx, user: EntraUser, port: number) {
    entra.nextUser = user.oid;
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

  const text = (r: unknown) => JSON.stringify((r as { content: unknown }).content);

  it('mail search as the signed-in user through OBO (tenant authority, rotated refresh token); another user cannot read it', { timeout: 240_000 }, async () => {
    const { t, added } = await setup();
    expect(added).toMatchObject({ kind: 'microsoft', cloud: 'custom', credentialCheck: { result: 'accepted', tenant: tid } });
    const alice = entra.addUser({ tid, email: 'alice@contoso.com', name: 'Alice' });
    const bob = entra.addUser({ tid, email: 'bob@contoso.com', name: 'Bob' });
    entra.addMessage(alice.oid, { id: 'a1', from: 'ceo@contoso.com', to: 'alice@contoso.com', subject: 'Offsite agenda', body: 'see you there', received: '2026-12-01T10:00:00Z' });
    entra.addMessage(bob.oid, { id: 'b1', from: 'ceo@contoso.com', to: 'bob@contoso.com', subject: 'Offsite agenda (Bob)', body: 'bob only', received: '2026-12-01T10:00:00Z' });
    entra.grantConsent(tid, ['Mail.Read']);
    const aliceId = await createUser(t, 'alice@contoso.com', ['Sales']);
    await createUser(t, 'bob@contoso.com', ['Sales']);
    for (const tool of ['microsoft__mail_search', 'microsoft__mail_read', 'microsoft__calendar_list_events']) await cli(app, 'tool approve', { tenant: t.slug, tool, group: ['Sales'] });

    const a = await signIn(t, alice, 53801);
    // The Entra sign-in asked for our API's scope and a refresh token, which is now in the vault for Alice.
    expect(entra.lastAuthorizeScope.split(' ')).toEqual(expect.arrayContaining([`api://${entra.clientId}/access_as_user`, 'offline_access', 'openid']));
    const captured = await loadEntraToken(app.services, t, aliceId);
    expect(captured).toMatchObject({ tid, oid: alice.oid, clientId: entra.clientId });
    const row = await t.db.vaultSecret.findFirst({ where: { ownerKind: ENTRA_TOKEN_OWNER, userId: aliceId } });
    expect(Buffer.from(row!.ciphertext).toString('latin1')).not.toContain(captured!.refreshToken);

    const found = await a.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'offsite' } });
    expect(found.isError).toBeFalsy();
    expect(found.structuredContent).toMatchObject({ messages: [{ id: 'a1', subject: 'Offsite agenda', from: 'ceo <ceo@contoso.com>' }], nextLink: null });
    expect(JSON.stringify(found)).not.toContain('Bob');
    // Refresh at the user's tenant, then OBO at the user's tenant — never /common — with the connector's secret.
    const grants = entra.tokenRequests.filter((r) => r.grant !== 'authorization_code' && r.grant !== 'client_credentials');
    expect(grants.map((r) => [r.grant, r.tenant, r.clientAuth])).toEqual([
      ['refresh_token', tid, 'client_secret_post'],
      ['urn:ietf:params:oauth:grant-type:jwt-bearer', tid, 'client_secret_post'],
    ]);
    expect(entra.graphRequests.every((r) => r.oid === alice.oid)).toBe(true);
    // Entra rotated the refresh token: the new one replaced the captured one in the vault.
    const rotated = await loadEntraToken(app.services, t, aliceId);
    expect(rotated!.refreshToken).not.toBe(captured!.refreshToken);
    expect(entra.refreshTokens.has(rotated!.refreshToken)).toBe(true);
    // Cached per (user, scope set): a second search makes no token request.
    const before = entra.tokenRequests.length;
    expect((await a.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'agenda' } })).isError).toBeFalsy();
    expect(entra.tokenRequests.length).toBe(before);

    // Bob signs in: his search shows his mail; Alice's message id is not found in his mailbox.
    const b = await signIn(t, bob, 53802);
    const bobs = await b.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'offsite' } });
    expect(bobs.structuredContent).toMatchObject({ messages: [{ id: 'b1' }] });
    const stolen = await b.client.callTool({ name: 'microsoft__mail_read', arguments: { messageId: 'a1' } });
    expect(stolen.isError).toBe(true);
    expect(text(stolen)).toMatch(/Not found/);
    expect(entra.graphRequests.filter((r) => r.path.startsWith('/v1.0/me/messages/a1')).every((r) => r.oid === bob.oid)).toBe(true);

    // Consent missing (Calendars.Read not granted): AADSTS65001 → the admin-consent link for Alice's tenant.
    const noConsent = await a.client.callTool({ name: 'microsoft__calendar_list_events', arguments: { start: '2026-12-07T00:00:00Z', end: '2026-12-08T00:00:00Z' } });
    expect(noConsent.isError).toBe(true);
    expect(text(noConsent)).toContain(`${entra.origin}/${tid}/adminconsent?client_id=${entra.clientId}`);
    expect(text(noConsent)).toMatch(/administrator/);
    entra.grantConsent(tid, ['Calendars.Read']);
    const events = await a.client.callTool({ name: 'microsoft__calendar_list_events', arguments: { start: '2026-12-07T00:00:00Z', end: '2026-12-08T00:00:00Z' } });
    expect(events.structuredContent).toMatchObject({ events: [{ id: 'ev1', subject: 'Standup' }] });

    // Conditional access: Bob's next token request meets a claims challenge → sign in again through our SSO.
    bob.claimsChallenge = CLAIMS;
    const challenged = await b.client.callTool({ name: 'microsoft__calendar_list_events', arguments: { start: '2026-12-07T00:00:00Z', end: '2026-12-08T00:00:00Z' } });
    expect(challenged.isError).toBe(true);
    expect(text(challenged)).toMatch(/multi-factor|conditional access/);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/t\/\S+)$/.exec((challenged.content as { text: string }[])[0]!.text)![1]!;
    expect(link.startsWith(`${app.url}/t/${t.slug}/oidc/login?connection=`)).toBe(true);
    // The link passes the challenge to Entra (`claims`); after that sign-in the next call starts from the new token.
    bob.claimsChallenge = undefined;
    entra.nextUser = bob.oid;
    const { res: signedIn } = await b.provider.browser.follow(link);
    expect(signedIn.status).toBe(200);
    expect(entra.lastAuthorizeClaims).toBe(CLAIMS);
    const n = entra.tokenRequests.length;
    const retried = await b.client.callTool({ name: 'microsoft__calendar_list_events', arguments: { start: '2026-12-07T00:00:00Z', end: '2026-12-08T00:00:00Z' } });
    expect(retried.isError).toBeFalsy();
    expect(entra.tokenRequests.slice(n).map((r) => r.grant)).toEqual(['refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer']);
    await a.client.close();
    await b.client.close();
  });

  it('logout deletes the stored refresh token (next call: sign in again); SCIM deprovisioning deletes it and the next call fails', { timeout: 240_000 }, async () => {
    const { t } = await setup();
    const carol = entra.addUser({ tid, email: 'carol@contoso.com', name: 'Carol' });
    const dave = entra.addUser({ tid, email: 'dave@contoso.com', name: 'Dave' });
    entra.addMessage(carol.oid, { id: 'c1', from: 'x@contoso.com', to: 'carol@contoso.com', subject: 'Hello', body: 'hi', received: '2026-12-01T10:00:00Z' });
    entra.grantConsent(tid, ['Mail.Read']);
    const carolId = await createUser(t, 'carol@contoso.com', ['Sales']);
    const daveId = await createUser(t, 'dave@contoso.com', ['Sales']);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'microsoft__mail_search', group: ['Sales'] });

    // Logout at our app: the Entra token is gone at once, even though the MCP grant (and the cached OBO token) lives on.
    const c = await signIn(t, carol, 53803);
    expect((await c.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'hello' } })).isError).toBeFalsy();
    const page = await (await c.provider.browser.request(`${app.url}/t/${t.slug}/logout`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    await c.provider.browser.postForm(`${app.url}/t/${t.slug}/logout`, { csrf });
    expect(await loadEntraToken(app.services, t, carolId)).toBeNull();
    const after = await c.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'hello' } });
    expect(after.isError).toBe(true);
    expect(text(after)).toContain(`${app.url}/t/${t.slug}/oidc/login?connection=`);

    // SCIM deactivation: the revocation hub deletes Dave's stored refresh token; his next call fails.
    const d = await signIn(t, dave, 53804);
    expect((await d.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'x' } })).isError).toBeFalsy();
    expect(await loadEntraToken(app.services, t, daveId)).not.toBeNull();
    const { token } = (await cli(app, 'scim-token create', { tenant: t.slug, label: 'Entra' })) as { token: string };
    const res = await fetch(`${app.url}/t/${t.slug}/scim/v2/Users/${daveId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }),
    });
    expect(res.status).toBe(200);
    expect(await t.db.vaultSecret.count({ where: { ownerKind: ENTRA_TOKEN_OWNER, userId: daveId } })).toBe(0);
    const calls = entra.graphRequests.length;
    await expect(d.client.callTool({ name: 'microsoft__mail_search', arguments: { query: 'x' } })).rejects.toThrow();
    expect(entra.graphRequests.length).toBe(calls);
    await c.client.close().catch(() => undefined);
    await d.client.close().catch(() => undefined);
  });
});
