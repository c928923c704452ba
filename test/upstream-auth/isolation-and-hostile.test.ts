import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { deleteExpiredConnectStates } from '../../src/upstream-auth/cleanup-connect-states.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, connect, createUser, useFakeVerifier, type FakeVerifier } from '../mcp/support.js';
import { Browser } from '../sso/support/browser.js';
import { connectAccount, signedIn, startConnecting } from './support/connect-helpers.js';
import { startUpstreamWithAs, type UpstreamWithAs } from './support/upstream-with-as.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

describe.each(testDbKinds)('per-user upstream: isolation between users, hostile callbacks (%s)', (kind) => {
  let app: TestApp;
  let as: UpstreamWithAs;
  let fake: FakeVerifier;

  beforeAll(async () => {
    app = await startTestApp(kind);
    as = await startUpstreamWithAs();
    as.allowOrigin(app.url);
    fake = useFakeVerifier(app);
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await as?.close();
    await app?.close();
  });

  async function tenantWithUpstream() {
    const t = await app.createTenant();
    const admin = await createUser(t, `admin-${t.slug}@example.com`);
    await cli(app, 'upstream add', { tenant: t.slug, name: 'gh', url: as.url, auth: 'oauth-per-user', 'client-id': as.clientId, 'client-secret': as.clientSecret });
    await connectAccount(app, t, await signedIn(app, t, admin), 'gh', as, `admin-${t.slug}`);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'gh__whoami' });
    return t;
  }

  const mcpAs = async (t: TenantCtx, userId: string): Promise<Client> =>
    (await connect(app, t, fake.issue(t, userId, { expiresAt: new Date(app.clock.now().getTime() + 30 * 86_400_000) }))).client;

  /** Every request the upstream saw on a session came with a token of the subject that opened that session. */
  function assertNoCrossing() {
    for (const r of as.seen) {
      if (r.sessionId && r.sub) expect(as.sessionOwners.get(r.sessionId), `session ${r.sessionId} used by ${r.sub}`).toBe(r.sub);
    }
  }

  it("user A's call never carries user B's token or session: concurrent, after refreshes, after a reconnect", { timeout: 120_000 }, async () => {
    const t = await tenantWithUpstream();
    const users = await Promise.all(['ann', 'ben', 'cat'].map((n) => createUser(t, `${n}@example.com`)));
    for (const [i, id] of users.entries()) await connectAccount(app, t, await signedIn(app, t, id), 'gh', as, `${['ann', 'ben', 'cat'][i]}-gh`);
    const clients = await Promise.all(users.map((id) => mcpAs(t, id)));
    const round = async () => {
      const calls = Array.from({ length: 30 }, (_, i) => ({ who: i % 3, call: clients[i % 3]!.callTool({ name: 'gh__whoami', arguments: {} }) }));
      const sessionsByUser = new Map<string, Set<string>>();
      for (const { who, call } of calls) {
        const [, sub, session] = /^sub=(\S+) session=(\S+)$/.exec(text(await call))!;
        expect(sub).toBe(`${['ann', 'ben', 'cat'][who]}-gh`);
        sessionsByUser.set(sub!, (sessionsByUser.get(sub!) ?? new Set()).add(session!));
      }
      // No session id is shared between two users.
      const all = [...sessionsByUser.values()].flatMap((s) => [...s]);
      expect(new Set(all).size).toBe(all.length);
    };
    await round();
    app.clock.advance(3_600_000); // every token is past its lifetime: the next calls refresh, concurrently
    const refreshes = () => as.tokenRequests.filter((g) => g === 'refresh_token').length;
    const before = refreshes();
    await round();
    // Single flight: ten concurrent calls per user, one refresh per user (a second would also trip rotation).
    expect(refreshes() - before).toBe(3);
    const ben = await t.db.upstreamConnection.findFirstOrThrow({ where: { userId: users[1] } });
    expect(ben.version).toBe(2);
    await connectAccount(app, t, await signedIn(app, t, users[1]!), 'gh', as, 'ben-gh'); // Ben reconnects
    await round();
    assertNoCrossing();
    // Per-user sessions: one upstream session per (user, upstream), never the admin's shared one.
    const owners = new Set(as.sessionOwners.values());
    for (const sub of ['ann-gh', 'ben-gh', 'cat-gh']) expect(owners.has(sub)).toBe(true);
  });

  it('refuses a tampered state, a replayed callback, a callback in another sign-in, and a wrong iss', { timeout: 60_000 }, async () => {
    const t = await tenantWithUpstream();
    const vic = await createUser(t, 'victim@example.com');
    const mal = await createUser(t, 'mallory@example.com');
    const vb = await signedIn(app, t, vic);

    // Tampered state: nothing found, nothing stored.
    const cb = new URL(await startConnecting(app, t, vb, 'gh', as, 'victim-gh'));
    const tampered = new URL(cb);
    tampered.searchParams.set('state', `${cb.searchParams.get('state')}x`);
    const r1 = await vb.request(tampered.href);
    expect(r1.status).toBe(400);
    expect(await r1.text()).toContain('expired or was already used');
    // Missing state.
    const noState = new URL(cb);
    noState.searchParams.delete('state');
    expect((await vb.request(noState.href)).status).toBe(400);
    // A wrong iss (RFC 9207 mix-up): refused, and the state is burnt.
    const wrongIss = new URL(cb);
    wrongIss.searchParams.set('iss', 'https://evil.example');
    expect((await vb.request(wrongIss.href)).status).toBe(400);
    expect((await vb.request(cb.href)).status).toBe(400);
    expect(await t.db.upstreamConnection.count({ where: { userId: vic } })).toBe(0);

    // Login CSRF on the connect flow: Mallory's callback (her code, her account) opened in the victim's browser.
    const malCallback = await startConnecting(app, t, await signedIn(app, t, mal), 'gh', as, 'mallory-gh');
    const forced = await vb.request(malCallback);
    expect(forced.status).toBe(400);
    expect(await forced.text()).toContain('started by another sign-in');
    expect(await t.db.upstreamConnection.count({ where: { userId: { in: [vic, mal] } } })).toBe(0);
    // …and with no session at all.
    const anon = await new Browser().request(await startConnecting(app, t, await signedIn(app, t, mal), 'gh', as, 'mallory-gh'));
    expect(anon.status).toBe(400);

    // Replay: the first use connects, the second finds nothing.
    const good = await startConnecting(app, t, vb, 'gh', as, 'victim-gh');
    expect((await vb.request(good)).status).toBe(200);
    expect((await vb.request(good)).status).toBe(400);
    expect(await t.db.upstreamConnection.count({ where: { userId: vic } })).toBe(1);
  });

  it("another tenant's user can neither finish nor start a flow of this tenant", { timeout: 60_000 }, async () => {
    const a = await tenantWithUpstream();
    const b = await tenantWithUpstream();
    const alice = await createUser(a, 'alice@a.example');
    const bUser = await createUser(b, 'bob@b.example');
    const callback = new URL(await startConnecting(app, a, await signedIn(app, a, alice), 'gh', as, 'alice-a'));
    // The same state and code sent to tenant B's callback by B's signed-in user: B has no such state.
    const bBrowser = await signedIn(app, b, bUser);
    const cross = await bBrowser.request(`${app.url}/t/${b.slug}/upstream-oauth/callback${callback.search}`);
    expect(cross.status).toBe(400);
    expect(await b.db.upstreamConnection.count({ where: { userId: bUser } })).toBe(0);
    // B's session cookie means nothing in tenant A: its connect page sends to A's login.
    const page = await bBrowser.request(`${app.url}/t/${a.slug}/connect/gh`);
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(new RegExp(`^/t/${a.slug}/login`));
    // A static or unknown upstream name has nothing to connect.
    expect((await (await signedIn(app, a, alice)).request(`${app.url}/t/${a.slug}/connect/nope`)).status).toBe(404);
  });

  it('never redirects off-site after connecting, whatever return_to says; the start form needs its CSRF token', { timeout: 60_000 }, async () => {
    const t = await tenantWithUpstream();
    const u = await createUser(t, 'redirect@example.com');
    const b = await signedIn(app, t, u);
    for (const evil of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', '/t/../../evil', `/t/${t.slug}/%2F%2Fevil.example`, 'javascript:alert(1)']) {
      const cb = await startConnecting(app, t, b, 'gh', as, 'redirect-gh', `?return_to=${encodeURIComponent(evil)}`);
      const res = await b.request(cb);
      const location = res.headers.get('location');
      if (location) expect(location, evil).toMatch(new RegExp(`^/t/${t.slug}/`));
      else expect(res.status, evil).toBe(200);
    }
    // A same-tenant return_to (the consent page, typically) is honoured.
    const cb = await startConnecting(app, t, b, 'gh', as, 'redirect-gh', `?return_to=${encodeURIComponent(`/t/${t.slug}/apps`)}`);
    const res = await b.request(cb);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/t/${t.slug}/apps`);
    // CSRF: a cross-site form post without our token starts nothing.
    const forged = await b.postForm(`${app.url}/t/${t.slug}/connect/gh`, { csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('location')).toBeNull();
  });

  it('an abandoned connect flow expires: its callback is refused and the cleanup job deletes its state and verifier', { timeout: 60_000 }, async () => {
    const t = await tenantWithUpstream();
    const u = await createUser(t, 'slow@example.com');
    const b = await signedIn(app, t, u);
    const callback = await startConnecting(app, t, b, 'gh', as, 'slow-gh');
    const state = await t.db.upstreamConnectState.findFirstOrThrow({ where: { userId: u } });
    app.clock.advance(11 * 60_000);
    const late = await (await signedIn(app, t, u)).request(callback);
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('expired');
    // Another abandoned one, never called back: the job removes it and its verifier.
    await startConnecting(app, t, await signedIn(app, t, u), 'gh', as, 'slow-gh');
    const abandoned = await t.db.upstreamConnectState.findFirstOrThrow({ where: { userId: u } });
    expect(abandoned.id).not.toBe(state.id);
    app.clock.advance(11 * 60_000);
    expect(await deleteExpiredConnectStates(app.services.db, app.clock)).toBeGreaterThanOrEqual(1);
    expect(await t.db.upstreamConnectState.count({ where: { userId: u } })).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { id: abandoned.verifierId } })).toBe(0);
    expect(await t.db.upstreamConnection.count({ where: { userId: u } })).toBe(0);
  });

  it('serves our client metadata document with client_id equal to its own URL', async () => {
    const t = await app.createTenant();
    const url = `${app.url}/t/${t.slug}/upstream-oauth/client-metadata.json`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    // No upstream knows us by it yet: no redirect URI (never the shared callback: decision 0060).
    expect(await res.json()).toMatchObject({ client_id: url, redirect_uris: [], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
  });
});
