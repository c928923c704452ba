import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, connect, createUser, useFakeVerifier, type FakeVerifier } from '../mcp/support.js';
import { startOidcIdp, type TestOidcIdp } from '../sso/support/oidc-idp.js';
import { oidcLogin, tenantWithOidc } from '../sso/support/sso-fixtures.js';
import { startUpstreamWithAs, type UpstreamWithAs } from './support/upstream-with-as.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * Issue 13 §3 / issue 14 `id-jag` end to end over real HTTP: a corporate IdP (oidc-provider) that signs users in and
 * mints ID-JAGs by token exchange, and an upstream MCP server whose authorization server (oidc-provider) advertises
 * the ID-JAG profile and redeems them (jwt-bearer). Users sign in to our tenant by SSO once; their tool calls then
 * reach the upstream as themselves, with no connect page and no consent.
 */
describe.each(testDbKinds)('id-jag upstreams (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  let as: UpstreamWithAs;
  let plain: UpstreamWithAs;
  let fake: FakeVerifier;

  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = await startOidcIdp({ idJag: true });
    idp.allowOrigin(app.url);
    as = await startUpstreamWithAs({ idJag: { idpIssuer: idp.issuer }, accessTtl: 3600 });
    idp.idJagClientId = as.clientId;
    plain = await startUpstreamWithAs();
    fake = useFakeVerifier(app);
  }, 120_000);
  afterAll(async () => {
    await app?.services.upstreams.close();
    await as?.close();
    await plain?.close();
    await idp?.close();
    await app?.close();
  });

  /** A tenant whose OIDC IdP is `idp`, with an id-jag upstream "crm" (pre-registered client) whose whoami is approved. */
  async function setUp() {
    const { t, conn } = await tenantWithOidc(app, idp);
    const added = await cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: as.url, auth: 'id-jag', 'client-id': as.clientId, 'client-secret': as.clientSecret });
    expect(added).toMatchObject({ tools: [], auth: 'id-jag', registration: 'preregistered', authorizationServer: as.issuer, idp: conn.id });
    expect(added).not.toHaveProperty('connectUrl');
    // The admin signs in once by SSO; their ID-JAG lists the upstream's tools.
    const admin = await signIn(t, `admin-${t.slug}`);
    const refreshed = await cli(app, 'upstream refresh', { tenant: t.slug, name: 'crm', user: `admin-${t.slug}@example.com` });
    expect(refreshed).toMatchObject({ tools: expect.arrayContaining(['crm__whoami', 'crm__echo']) });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'crm__whoami' });
    return { t, connId: String(conn.id), admin };
  }

  /** The full browser SSO login at the IdP; returns the local user's id. */
  async function signIn(t: TenantCtx, sub: string): Promise<string> {
    await oidcLogin(app, idp, t, { sub, email: `${sub}@example.com` });
    const identity = await t.db.userIdentity.findFirst({ where: { subject: sub } });
    return identity!.userId;
  }

  async function mcpAs(t: TenantCtx, userId: string): Promise<Client> {
    return (await connect(app, t, fake.issue(t, userId, { expiresAt: new Date(app.clock.now().getTime() + 30 * 86_400_000) }))).client;
  }

  const audits = async (t: TenantCtx) => {
    await app.services.audit.flush();
    return (await t.db.auditEvent.findMany({ where: { action: 'upstream.id-jag.acquire' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map((r) => ({ outcome: r.outcome, detail: r.detail as Record<string, unknown> }));
  };

  it('each user reaches the upstream as themselves, with no connect page or consent; the token is cached, then re-acquired when it expires', { timeout: 180_000 }, async () => {
    const { t, connId } = await setUp();
    const alice = await signIn(t, 'alice');
    const bob = await signIn(t, 'bob');
    const exchangesBefore = idp.grants.filter((g) => g === TOKEN_EXCHANGE).length;
    const upstreamGrantsBefore = as.tokenRequests.length;

    const [a, b] = await Promise.all([mcpAs(t, alice), mcpAs(t, bob)]);
    const [ra, rb] = await Promise.all([a.callTool({ name: 'crm__whoami', arguments: {} }), b.callTool({ name: 'crm__whoami', arguments: {} })]);
    expect(text(ra)).toMatch(/^sub=alice /);
    expect(text(rb)).toMatch(/^sub=bob /);
    // One IdP exchange and one jwt-bearer grant per user; never an authorization code (no browser, no consent).
    expect(idp.grants.filter((g) => g === TOKEN_EXCHANGE).length - exchangesBefore).toBe(2);
    expect(as.tokenRequests.slice(upstreamGrantsBefore)).toEqual([JWT_BEARER, JWT_BEARER]);

    // Cached per (tenant, user, upstream): a second call asks nobody.
    expect(text(await a.callTool({ name: 'crm__whoami', arguments: {} }))).toMatch(/^sub=alice /);
    expect(as.tokenRequests.length - upstreamGrantsBefore).toBe(2);
    const conns = await t.db.upstreamConnection.findMany({ where: { userId: { in: [alice, bob] } } });
    expect(conns).toHaveLength(2);

    // The upstream token expires (the app's clock passes its expiry): a new one is obtained by ID-JAG, as the same user.
    app.clock.advance(2 * 3600_000);
    expect(text(await a.callTool({ name: 'crm__whoami', arguments: {} }))).toMatch(/^sub=alice /);
    expect(as.tokenRequests.slice(upstreamGrantsBefore)).toEqual([JWT_BEARER, JWT_BEARER, JWT_BEARER]);
    expect(text(await b.callTool({ name: 'crm__whoami', arguments: {} }))).toMatch(/^sub=bob /);

    // Single flight: a user's concurrent first calls obtain one token between them.
    const ivan = await signIn(t, 'ivan');
    const i = await mcpAs(t, ivan);
    const grantsBeforeIvan = as.tokenRequests.length;
    const both = await Promise.all([i.callTool({ name: 'crm__whoami', arguments: {} }), i.callTool({ name: 'crm__whoami', arguments: {} })]);
    expect(both.map(text).every((x) => x.startsWith('sub=ivan '))).toBe(true);
    expect(as.tokenRequests.length - grantsBeforeIvan).toBe(1);

    const rows = (await audits(t)).filter((r) => r.detail.userId === alice);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.outcome === 'success' && r.detail.idpConnectionId === connId)).toBe(true);
    expect(JSON.stringify(await audits(t))).not.toMatch(/eyJ/); // no token in the audit trail
    expect((await cli(app, 'upstream list', { tenant: t.slug })).upstreams).toEqual([expect.objectContaining({ name: 'crm', auth: 'id-jag', identity: 'per-user', connections: 4 })]);
  });

  it('an expired IdP ID token is renewed with the stored refresh token', { timeout: 180_000 }, async () => {
    const shortIdp = await startOidcIdp({ idJag: true, idTokenTtl: 30 });
    shortIdp.allowOrigin(app.url);
    shortIdp.idJagClientId = as.clientId;
    const shortAs = await startUpstreamWithAs({ idJag: { idpIssuer: shortIdp.issuer } });
    try {
      const { t } = await tenantWithOidc(app, shortIdp);
      await cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: shortAs.url, auth: 'id-jag', 'client-id': shortAs.clientId, 'client-secret': shortAs.clientSecret });
      await oidcLogin(app, shortIdp, t, { sub: 'erin', email: 'erin@example.com' });
      const erin = (await t.db.userIdentity.findFirst({ where: { subject: 'erin' } }))!.userId;
      // The ID token (30 s) is inside the renewal margin: the refresh token gets a fresh one before the exchange.
      const listed = await cli(app, 'upstream refresh', { tenant: t.slug, name: 'crm', user: 'erin@example.com' });
      expect(listed).toMatchObject({ tools: expect.arrayContaining(['crm__whoami']) });
      expect(shortIdp.grants.filter((g) => g !== 'authorization_code')).toEqual(['refresh_token', TOKEN_EXCHANGE]);
      expect(shortAs.tokenRequests).toEqual([JWT_BEARER]);
      expect(await t.db.upstreamConnection.count({ where: { userId: erin } })).toBe(1);
    } finally {
      await shortAs.close();
      await shortIdp.close();
    }
  });

  it('no stored sign-in → sign in again via SSO, with the link; IdP policy refusal → a tool error naming the reason, audited', { timeout: 180_000 }, async () => {
    const { t } = await setUp();
    // Dave signed in at another tenant trusting the same IdP: that sign-in is that tenant's, never used here.
    const other = await setUp();
    await signIn(other.t, 'dave');
    // Here dave never signed in by SSO (SCIM-provisioned, say): nothing to exchange.
    const dave = await createUser(t, 'dave@example.com');
    const before = as.tokenRequests.length;
    const r1 = (await (await mcpAs(t, dave)).callTool({ name: 'crm__whoami', arguments: {} })) as CallToolResult;
    expect(r1.isError).toBe(true);
    expect(text(r1)).toContain(`${app.url}/t/${t.slug}/login`);
    expect(r1.structuredContent).toMatchObject({ error: 'idp_sign_in_required', upstream: 'crm', signInUrl: `${app.url}/t/${t.slug}/login` });
    expect(as.tokenRequests.length).toBe(before);
    expect(await other.t.db.vaultSecret.count({ where: { ownerKind: 'idp-sign-in' } })).toBe(2); // admin + dave, there

    // The IdP's admin has not assigned the upstream to carol: the IdP refuses the exchange.
    const carol = await signIn(t, 'carol');
    idp.refuseIdJag.add('carol');
    try {
      const r2 = (await (await mcpAs(t, carol)).callTool({ name: 'crm__whoami', arguments: {} })) as CallToolResult;
      expect(r2.isError).toBe(true);
      expect(text(r2)).toContain('refused access to crm');
      expect(text(r2)).toContain('access_denied');
      expect(r2.structuredContent).toMatchObject({ error: 'idp_refused', reason: expect.stringContaining('access_denied') });
      expect(r2.structuredContent).not.toHaveProperty('connectUrl');
      expect(as.tokenRequests.length).toBe(before);
      expect(await t.db.upstreamConnection.count({ where: { userId: carol } })).toBe(0);
      const rows = await audits(t);
      expect(rows.find((r) => r.detail.userId === carol)).toMatchObject({ outcome: 'denied', detail: { error: 'access_denied' } });
      expect(rows.find((r) => r.detail.userId === dave)).toMatchObject({ outcome: 'denied', detail: { error: 'no_sign_in' } });
    } finally {
      idp.refuseIdJag.delete('carol');
    }
    // Once the IdP allows it, the same user gets through without doing anything.
    expect(text(await (await mcpAs(t, carol)).callTool({ name: 'crm__whoami', arguments: {} }))).toMatch(/^sub=carol /);

    // The IdP names a client the upstream's AS does not know (misconfigured resource app): the upstream refuses.
    const hank = await signIn(t, 'hank');
    idp.idJagClientId = 'not-the-gateway';
    try {
      const r3 = (await (await mcpAs(t, hank)).callTool({ name: 'crm__whoami', arguments: {} })) as CallToolResult;
      expect(r3.isError).toBe(true);
      expect(r3.structuredContent).toMatchObject({ error: 'upstream_refused', reason: expect.stringContaining('invalid_grant') });
      expect((await audits(t)).find((r) => r.detail.userId === hank)).toMatchObject({ outcome: 'denied', detail: { error: 'invalid_grant' } });
    } finally {
      idp.idJagClientId = as.clientId;
    }
  });

  it('deprovisioning deletes the cached upstream token and the IdP sign-in, and the call is refused', { timeout: 180_000 }, async () => {
    const { t } = await setUp();
    const frank = await signIn(t, 'frank');
    const client = await mcpAs(t, frank);
    expect(text(await client.callTool({ name: 'crm__whoami', arguments: {} }))).toMatch(/^sub=frank /);
    expect(await t.db.upstreamConnection.count({ where: { userId: frank } })).toBe(1);
    expect(await t.db.vaultSecret.count({ where: { userId: frank, ownerKind: 'idp-sign-in' } })).toBe(1);

    await app.services.revocation.revokeUser(t, frank, 'scim.deactivated');
    expect(await t.db.upstreamConnection.count({ where: { userId: frank } })).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { userId: frank } })).toBe(0);
    const before = as.tokenRequests.length;
    await expect(client.callTool({ name: 'crm__whoami', arguments: {} })).rejects.toThrow();
    expect(as.tokenRequests.length).toBe(before);
  });

  it('signing out deletes the stored IdP sign-in: the next acquisition asks the user to sign in again', { timeout: 180_000 }, async () => {
    const { t } = await setUp();
    const b = await oidcLogin(app, idp, t, { sub: 'gina', email: 'gina@example.com' });
    const gina = (await t.db.userIdentity.findFirst({ where: { subject: 'gina' } }))!.userId;
    expect(await t.db.vaultSecret.count({ where: { userId: gina, ownerKind: 'idp-sign-in' } })).toBe(1);
    const page = await (await b.request(`${app.url}/t/${t.slug}/logout`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    expect((await b.postForm(`${app.url}/t/${t.slug}/logout`, { csrf })).status).toBe(303);
    expect(await t.db.vaultSecret.count({ where: { userId: gina, ownerKind: 'idp-sign-in' } })).toBe(0);
    const r = (await (await mcpAs(t, gina)).callTool({ name: 'crm__whoami', arguments: {} })) as CallToolResult;
    expect(r.structuredContent).toMatchObject({ error: 'idp_sign_in_required' });
  });

  it('upstream add --auth id-jag is refused when the upstream AS does not advertise the ID-JAG profile, and checks its options', { timeout: 120_000 }, async () => {
    const { t } = await tenantWithOidc(app, idp);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'gh', url: plain.url, auth: 'id-jag', 'client-id': plain.clientId, 'client-secret': plain.clientSecret })).rejects.toMatchObject({
      code: 'upstream_no_id_jag',
      message: expect.stringContaining('does not advertise the ID-JAG profile'),
    });
    expect(await t.db.upstream.count()).toBe(0);
    // ID-JAGs name the client: never a dynamically registered one.
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: as.url, auth: 'id-jag' })).rejects.toThrow(/pass --client-id/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: as.url, auth: 'id-jag', 'client-id': as.clientId, idp: 'idp_nope' })).rejects.toThrow(/--idp idp_nope/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: as.url, auth: 'oauth-per-user', idp: 'idp_x' })).rejects.toThrow(/--idp needs --auth id-jag/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'crm', url: as.url, auth: 'id-jag', 'client-id': as.clientId, 'connect-at-consent': true })).rejects.toThrow(/connect-at-consent/);
    // A tenant without an OIDC IdP has nobody to mint ID-JAGs.
    const bare = await app.createTenant();
    await expect(cli(app, 'upstream add', { tenant: bare.slug, name: 'crm', url: as.url, auth: 'id-jag', 'client-id': as.clientId })).rejects.toThrow(/needs an enabled OIDC IdP connection/);
  });
});
