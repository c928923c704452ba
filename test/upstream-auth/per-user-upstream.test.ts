import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitationCompleteNotificationSchema,
  ToolListChangedNotificationSchema,
  UrlElicitationRequiredError,
  type CallToolResult,
  type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { readTokens } from '../../src/upstream-auth/connection-store.js';
import { UpstreamTokens } from '../../src/upstream-auth/upstream-tokens.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, connect, createUser, startUpstream, useFakeVerifier, type FakeVerifier, type Upstream } from '../mcp/support.js';
import { connectAccount, signedIn, startConnecting } from './support/connect-helpers.js';
import { startUpstreamWithAs, type UpstreamWithAs } from './support/upstream-with-as.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

/**
 * Issue 14 §1–3 end to end: an upstream MCP server behind its own authorization server (oidc-provider) that accepts
 * only per-user tokens and echoes the caller; users connect once at /t/{slug}/connect/{upstream}, their calls carry
 * their own token on their own session, tokens refresh, disconnect and deprovisioning end them here and upstream.
 */
describe.each(testDbKinds)('per-user upstream OAuth (%s)', (kind) => {
  let app: TestApp;
  let as: UpstreamWithAs;
  let fake: FakeVerifier;
  let shared: Upstream;

  beforeAll(async () => {
    app = await startTestApp(kind);
    as = await startUpstreamWithAs();
    as.allowOrigin(app.url);
    fake = useFakeVerifier(app);
    shared = await startUpstream();
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await as?.close();
    await shared?.close();
    await app?.close();
  });

  /** A tenant with an oauth-per-user upstream "gh" whose whoami is approved for everyone (after the admin connected). */
  async function setUp(opts: { preregistered?: boolean } = {}) {
    const t = await app.createTenant();
    const admin = await createUser(t, `admin-${t.slug}@example.com`);
    const added = await cli(app, 'upstream add', {
      tenant: t.slug,
      name: 'gh',
      url: as.url,
      auth: 'oauth-per-user',
      ...(opts.preregistered !== false && { 'client-id': as.clientId, 'client-secret': as.clientSecret }),
    });
    expect(added).toMatchObject({ tools: [], auth: 'oauth-per-user', registration: opts.preregistered === false ? 'dcr' : 'preregistered', connectUrl: `${app.url}/t/${t.slug}/connect/gh` });
    // The admin connects first: a per-user upstream lists its tools only to a signed-in user.
    const res = await connectAccount(app, t, await signedIn(app, t, admin), 'gh', as, `admin-${t.slug}`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await app.services.db.tool.findMany({ where: { tenantId: t.id }, select: { name: true } })).map((x) => x.name).sort()).toEqual(expect.arrayContaining(['gh__echo', 'gh__whoami']));
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'gh__whoami' });
    return { t, admin };
  }

  async function mcpAs(t: TenantCtx, userId: string): Promise<Client> {
    // Tokens of our own AS outlive the hours these tests move the clock by (the upstream tokens are what expires).
    return (await connect(app, t, fake.issue(t, userId, { expiresAt: new Date(app.clock.now().getTime() + 30 * 86_400_000) }))).client;
  }

  it('each user connects once and the upstream sees each caller as themselves; refresh, disconnect, admin view', { timeout: 120_000 }, async () => {
    const { t } = await setUp();
    const alice = await createUser(t, 'alice@example.com');
    const bob = await createUser(t, 'bob@example.com');
    const aliceMcp = await mcpAs(t, alice);
    const bobMcp = await mcpAs(t, bob);

    // Not connected yet: a tool error carrying the link, nothing sent upstream with anyone else's token.
    const before = as.seen.length;
    const first = (await aliceMcp.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
    expect(first.isError).toBe(true);
    expect(text(first)).toContain(`${app.url}/t/${t.slug}/connect/gh`);
    expect(first.structuredContent).toMatchObject({ error: 'not_connected', connectUrl: `${app.url}/t/${t.slug}/connect/gh` });
    expect(as.seen.length).toBe(before);

    expect((await connectAccount(app, t, await signedIn(app, t, alice), 'gh', as, 'alice-gh')).status).toBe(200);
    expect((await connectAccount(app, t, await signedIn(app, t, bob), 'gh', as, 'bob-gh')).status).toBe(200);
    expect(text(await aliceMcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=alice-gh /);
    expect(text(await bobMcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=bob-gh /);

    // Refresh ahead of expiry: the gateway's clock passes the access token's lifetime; the next call refreshes first.
    const refreshesBefore = as.tokenRequests.filter((g) => g === 'refresh_token').length;
    app.clock.advance(3_600_000);
    expect(text(await aliceMcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=alice-gh /);
    expect(text(await bobMcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=bob-gh /);
    expect(as.tokenRequests.filter((g) => g === 'refresh_token').length).toBe(refreshesBefore + 2);
    const conn = await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: alice } });
    expect(conn.version).toBe(2);
    expect(conn.refreshedAt).not.toBeNull();

    // The admin's view: every connection, per user; never a token.
    const listed = await cli(app, 'upstream connections', { tenant: t.slug });
    const aliceTokens = await readTokens(app.services, t, conn.secretId);
    expect(JSON.stringify(listed)).not.toContain(aliceTokens.access_token);
    expect(JSON.stringify(listed)).not.toContain(aliceTokens.refresh_token!);
    expect((listed.connections as { user: string; status: string }[]).map((c) => c.user).sort()).toEqual(['alice@example.com', `admin-${t.slug}@example.com`, 'bob@example.com'].sort());
    expect(await cli(app, 'upstream connections', { tenant: t.slug, user: 'BOB@example.com' })).toMatchObject({ connections: [{ user: 'bob@example.com', upstream: 'gh', status: 'connected' }] });
    expect(await cli(app, 'upstream list', { tenant: t.slug })).toMatchObject({ upstreams: [{ name: 'gh', auth: 'oauth-per-user', identity: 'per-user', connections: 3 }] });

    // Alice disconnects on her connected-apps page: gone here at once, and revoked at the upstream (RFC 7009).
    const aliceBrowser = await signedIn(app, t, alice); // her first browser session went idle while the clock moved
    const appsPage = await (await aliceBrowser.request(`${app.url}/t/${t.slug}/apps`)).text();
    expect(appsPage).toContain('gh');
    const csrf = /action="\/t\/[^"]+\/apps\/disconnect-upstream">\s*<input type="hidden" name="csrf" value="([^"]+)"/.exec(appsPage)![1]!;
    const revocationsBefore = as.tokenRequests.filter((g) => g === 'revocation').length;
    const out = await aliceBrowser.postForm(`${app.url}/t/${t.slug}/apps/disconnect-upstream`, { csrf, upstream: 'gh' });
    expect(out.status).toBe(303);
    expect(await t.db.upstreamConnection.count({ where: { userId: alice } })).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { id: conn.secretId } })).toBe(0);
    expect(as.tokenRequests.filter((g) => g === 'revocation').length).toBeGreaterThan(revocationsBefore);
    expect(await as.tryRefresh(aliceTokens.refresh_token!)).toMatchObject({ status: 400, error: 'invalid_grant' });
    const after = (await aliceMcp.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
    expect(after.isError).toBe(true);
    expect(after.structuredContent).toMatchObject({ error: 'not_connected' });
    // Bob is untouched.
    expect(text(await bobMcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=bob-gh /);
  });

  it('a client that declared URL-mode elicitation gets -32042 with the connect URL; without it, the tool result', { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const gina = await createUser(t, 'gina@example.com');
    const token = fake.issue(t, gina, { expiresAt: new Date(app.clock.now().getTime() + 30 * 86_400_000) });
    const sdkClient = async (capabilities: ClientCapabilities) => {
      const c = new Client({ name: 'elicit', version: '1.0.0' }, { capabilities });
      await c.connect(new StreamableHTTPClientTransport(new URL(mcpResourceUrl(app.url, t)), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      return c;
    };
    const withUrl = await sdkClient({ elicitation: { form: {}, url: {} } });
    const formOnly = await sdkClient({ elicitation: {} });
    const connectUrl = `${app.url}/t/${t.slug}/connect/gh`;

    // MCP 2025-11-25: URLElicitationRequiredError, one url-mode elicitation with an opaque id and our connect page.
    const err = await withUrl.callTool({ name: 'gh__whoami', arguments: {} }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UrlElicitationRequiredError);
    const e = err as UrlElicitationRequiredError;
    expect(e.code).toBe(-32042);
    expect(e.elicitations).toEqual([{ mode: 'url', url: connectUrl, elicitationId: expect.stringMatching(/^[0-9a-f-]{36}$/), message: expect.stringContaining('not connected') }]);
    // The call is audited like the tool-result answer.
    await app.services.audit.flush();
    const audited = await t.db.auditEvent.findFirst({ where: { action: 'mcp.tool.call', actorId: gina }, orderBy: { seq: 'desc' } });
    expect(audited?.detail).toMatchObject({ tool: 'gh__whoami', error: 'auth_required' });

    // A client without URL mode (form only) keeps the tool result with the link.
    const res = (await formOnly.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
    expect(res.structuredContent).toMatchObject({ error: 'not_connected', connectUrl });

    // After connecting, the same client's call goes through; a dead connection asks again the same way.
    await connectAccount(app, t, await signedIn(app, t, gina), 'gh', as, 'gina-gh');
    expect(text(await withUrl.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=gina-gh /);
    await t.db.upstreamConnection.updateMany({ where: { userId: gina }, data: { status: 'needs_reconnection' } });
    await app.services.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId: gina, upstreamId: (await t.db.upstream.findFirstOrThrow({ where: { name: 'gh' } })).id });
    await expect(withUrl.callTool({ name: 'gh__whoami', arguments: {} })).rejects.toMatchObject({ code: -32042, message: expect.stringMatching(/connect it again/) });
    // A transient failure has nothing for the user to open: a tool result even for the URL-mode client.
    await t.db.upstreamConnection.updateMany({ where: { userId: gina }, data: { status: 'connected', accessExpiresAt: new Date(0) } });
    await app.services.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId: gina, upstreamId: (await t.db.upstream.findFirstOrThrow({ where: { name: 'gh' } })).id });
    as.tokenEndpointDown = true;
    try {
      const down = (await withUrl.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
      expect(down.structuredContent).toMatchObject({ error: 'refresh_unavailable' });
    } finally {
      as.tokenEndpointDown = false;
    }
    await withUrl.close();
    await formOnly.close();
  });

  it('announces notifications/elicitation/complete on the session that was asked, once the user connected', { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const ida = await createUser(t, 'ida@example.com');
    const other = await createUser(t, 'other@example.com');
    const client = async (userId: string) => {
      const c = new Client({ name: 'elicit', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
      const completed: string[] = [];
      let listChanged = 0;
      c.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
      const token = fake.issue(t, userId, { expiresAt: new Date(app.clock.now().getTime() + 30 * 86_400_000) });
      await c.connect(new StreamableHTTPClientTransport(new URL(mcpResourceUrl(app.url, t)), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      // Its GET stream (opened by the SDK after initialize) listens once it hears a bus event.
      await vi.waitFor(
        async () => {
          await app.services.bus.publish({ type: 'tools.changed', tenantId: t.id });
          expect(listChanged).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 50 },
      );
      return { c, completed };
    };
    const mine = await client(ida);
    const theirs = await client(other);
    const err = (await mine.c.callTool({ name: 'gh__whoami', arguments: {} }).catch((e: unknown) => e)) as UrlElicitationRequiredError;
    const theirErr = (await theirs.c.callTool({ name: 'gh__whoami', arguments: {} }).catch((e: unknown) => e)) as UrlElicitationRequiredError;
    const id = err.elicitations[0]!.elicitationId;
    expect(id).not.toBe(theirErr.elicitations[0]!.elicitationId);
    await connectAccount(app, t, await signedIn(app, t, ida), 'gh', as, 'ida-gh');
    await vi.waitFor(() => expect(mine.completed).toEqual([id]), { timeout: 10_000 });
    // Nobody else hears it; the other user's elicitation stays pending until they connect.
    expect(theirs.completed).toEqual([]);
    expect(text(await mine.c.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=ida-gh /);
    await mine.c.close();
    await theirs.c.close();
  });

  it('refresh is single-flight across nodes: two nodes needing the same refreshed token refresh it once (the row lease)', { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const hal = await createUser(t, 'hal@example.com');
    await connectAccount(app, t, await signedIn(app, t, hal), 'gh', as, 'hal-gh');
    const row = await t.db.upstream.findFirstOrThrow({ where: { name: 'gh' } });
    const up = { id: row.id, url: row.url, headersSecretId: row.headersSecretId, updatedAt: row.updatedAt, authMode: row.authMode };
    // Two nodes: each its own token cache and in-process single flight, the same database.
    const nodeA = new UpstreamTokens(app.services);
    const nodeB = new UpstreamTokens(app.services);
    const first = await nodeA.forCall(t, up, hal);
    app.clock.advance(3_600_000);
    const refreshesBefore = as.tokenRequests.filter((g) => g === 'refresh_token').length;
    const [a, b] = await Promise.all([nodeA.forCall(t, up, hal), nodeB.forCall(t, up, hal)]);
    expect(as.tokenRequests.filter((g) => g === 'refresh_token').length).toBe(refreshesBefore + 1);
    expect(a.version).not.toBe(first.version);
    expect(b).toEqual(a); // the node that waited uses the other's new token
    expect(await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: hal } })).toMatchObject({ version: 2, refreshLeaseUntil: null });
  });

  it('a token load that overlapped a disconnect is answered but not cached: the old credentials never come back', { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const ivy = await createUser(t, 'ivy@example.com');
    await connectAccount(app, t, await signedIn(app, t, ivy), 'gh', as, 'ivy-gh');
    const row = await t.db.upstream.findFirstOrThrow({ where: { name: 'gh' } });
    const up = { id: row.id, url: row.url, headersSecretId: row.headersSecretId, updatedAt: row.updatedAt, authMode: row.authMode };
    const node = new UpstreamTokens(app.services);
    const vault = app.services.vault;
    const read = vault.getString.bind(vault);
    let reads = 0;
    // The connection changes (a disconnect on another node) while the load is between its row read and its cache write.
    const spy = vi.spyOn(vault, 'getString').mockImplementation(async (tt, id) => {
      if (reads++ === 0) await app.services.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId: ivy, upstreamId: row.id });
      return read(tt, id);
    });
    try {
      await node.forCall(t, up, ivy);
      await node.forCall(t, up, ivy);
      expect(reads).toBe(2); // read again: the overlapped load was not cached
      await node.forCall(t, up, ivy);
      expect(reads).toBe(2); // a clean load is
    } finally {
      spy.mockRestore();
    }
  });

  it('registers by dynamic client registration when no client is given and PUBLIC_URL is not https', { timeout: 60_000 }, async () => {
    const { t } = await setUp({ preregistered: false });
    const row = await t.db.upstreamOAuthClient.findFirstOrThrow({});
    // Registered with the upstream's own redirect URI (decision 0060).
    expect(row).toMatchObject({ registration: 'dcr', redirectUri: `${app.url}/t/${t.slug}/upstream-oauth/callback/${row.upstreamId}`, sharedRedirectUri: false });
    expect(row.clientId).toBeTruthy();
  });

  it('labels static upstreams as one shared identity and refuses per-user options on them', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: shared.url });
    expect(await cli(app, 'upstream list', { tenant: t.slug })).toMatchObject({ upstreams: [{ name: 'crm', auth: 'static', identity: 'shared' }] });
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'crm2', url: shared.url, scope: 'x' })).rejects.toThrow(/need --auth oauth-per-user/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'crm3', url: shared.url, auth: 'magic' })).rejects.toThrow(/--auth must be one of/);
  });

  it('deprovisioning deletes the connections at once and revokes them at the upstream', { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const carol = await createUser(t, 'carol@example.com');
    const browser = await signedIn(app, t, carol);
    await connectAccount(app, t, browser, 'gh', as, 'carol-gh');
    const conn = await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: carol } });
    const tokens = await readTokens(app.services, t, conn.secretId);
    // Her connected-apps JSON lists the account, never its tokens.
    const api = await (await browser.request(`${app.url}/t/${t.slug}/api/connected-apps`)).text();
    expect(JSON.parse(api)).toMatchObject({ accounts: [{ upstream: 'gh', status: 'connected', connectUrl: `${app.url}/t/${t.slug}/connect/gh` }] });
    expect(api).not.toContain(tokens.access_token);
    expect((await browser.request(`${app.url}/t/${t.slug}/api/connected-apps/upstreams/nope`, { method: 'DELETE' })).status).toBe(404);
    const result = await app.services.revocation.revokeUser(t, carol, 'scim.deactivated');
    expect(result.ended['upstream-connections']).toBe(1);
    expect(await t.db.upstreamConnection.count({ where: { userId: carol } })).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { userId: carol } })).toBe(0);
    expect(await as.tryRefresh(tokens.refresh_token!)).toMatchObject({ status: 400, error: 'invalid_grant' });
  });

  it("the upstream's token endpoint down: a clear tool error, the connection kept, and recovery once it is back", { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const dave = await createUser(t, 'dave@example.com');
    await connectAccount(app, t, await signedIn(app, t, dave), 'gh', as, 'dave-gh');
    const mcp = await mcpAs(t, dave);
    expect(text(await mcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=dave-gh /);
    app.clock.advance(3_600_000);
    as.tokenEndpointDown = true;
    try {
      const down = (await mcp.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
      expect(down.isError).toBe(true);
      expect(text(down)).toMatch(/could not be renewed right now/);
      expect(down.structuredContent).toMatchObject({ error: 'refresh_unavailable' });
      expect(await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: dave } })).toMatchObject({ status: 'connected', refreshLeaseUntil: null });
    } finally {
      as.tokenEndpointDown = false;
    }
    expect(text(await mcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=dave-gh /);
  });

  it('a refresh the upstream refuses marks the connection as needing reconnection, and reconnecting fixes it', { timeout: 60_000 }, async () => {
    const { t } = await setUp();
    const erin = await createUser(t, 'erin@example.com');
    await connectAccount(app, t, await signedIn(app, t, erin), 'gh', as, 'erin-gh');
    const conn = await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: erin } });
    const tokens = await readTokens(app.services, t, conn.secretId);
    // The user revoked the gateway at the upstream (or an upstream admin did): the refresh token is dead there.
    await fetch(`${as.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${as.clientId}:${as.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token' }),
    });
    app.clock.advance(3_600_000);
    const mcp = await mcpAs(t, erin);
    const refused = (await mcp.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
    expect(refused.structuredContent).toMatchObject({ error: 'needs_reconnection', connectUrl: `${app.url}/t/${t.slug}/connect/gh` });
    expect(text(refused)).toMatch(/connect it again/);
    expect(await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: erin } })).toMatchObject({ status: 'needs_reconnection' });
    const again = await signedIn(app, t, erin); // the first browser session went idle while the clock moved
    expect(await (await again.request(`${app.url}/t/${t.slug}/apps`)).text()).toMatch(/needs to be reconnected/i);
    await connectAccount(app, t, again, 'gh', as, 'erin-gh');
    expect(text(await mcp.callTool({ name: 'gh__whoami', arguments: {} }))).toMatch(/^sub=erin-gh /);
  });

  it('connect at consent: the consent page offers the account, connecting returns to it, and it shows connected', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'gh', url: as.url, auth: 'oauth-per-user', 'client-id': as.clientId, 'client-secret': as.clientSecret, 'connect-at-consent': true });
    const fran = await createUser(t, 'fran@example.com');
    const b = await signedIn(app, t, fran);
    const reg = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Assistant', redirect_uris: ['http://127.0.0.1:4567/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
    });
    const client = (await reg.json()) as { client_id: string };
    const authorize = `${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams({
      client_id: client.client_id, response_type: 'code', redirect_uri: 'http://127.0.0.1:4567/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', resource: `${app.url}/t/${t.slug}/mcp`,
    })}`;
    const consent = async () => {
      const { res, url } = await b.follow(authorize);
      return { body: await res.text(), url };
    };
    const first = await consent();
    expect(first.body).toContain('Your accounts these tools use');
    const link = /<a class="button" href="([^"]+)">Connect gh<\/a>/.exec(first.body)![1]!.replace(/&amp;/g, '&');
    expect(link).toMatch(new RegExp(`^/t/${t.slug}/connect/gh\\?return_to=%2Ft%2F${t.slug}%2Foauth%2Finteraction%2F`));
    // The connect page, the upstream's own sign-in, then back to the same consent interaction.
    const callback = await startConnecting(app, t, b, 'gh', as, 'fran-gh', link.slice(`/t/${t.slug}/connect/gh`.length));
    const back = await b.request(callback);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toMatch(new RegExp(`^/t/${t.slug}/oauth/interaction/`));
    const again = await b.request(new URL(back.headers.get('location')!, app.url).href);
    const body = await again.text();
    expect(body).toMatch(/<strong>gh<\/strong> \(<code>[^<]+<\/code>\) — connected/);
    expect((body.match(/<form /g) ?? []).length).toBe(1);
    expect(await t.db.upstreamConnection.count({ where: { userId: fran } })).toBe(1);
  });
});
