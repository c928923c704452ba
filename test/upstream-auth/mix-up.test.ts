import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, createUser } from '../mcp/support.js';
import type { Browser } from '../sso/support/browser.js';
import { connectAccount, signedIn } from './support/connect-helpers.js';
import { startUpstreamWithAs, type UpstreamWithAs } from './support/upstream-with-as.js';

/**
 * The mix-up attack on the gateway as an OAuth client of several upstream authorization servers (RFC 9700 §4.4):
 * a malicious upstream's server receives the user's authorization request and sends the browser on to an honest
 * server with our client id there and our `state`; when the honest server's code comes back, the gateway must not
 * take it for the malicious server's and send it, with the PKCE verifier, to the malicious token endpoint.
 * Both servers here lack RFC 9207 (no `iss`), the case distinct redirect URIs exist for (decision 0060).
 */
describe.each(testDbKinds)('per-user upstream: mix-up between two upstream authorization servers (%s)', (kind) => {
  let app: TestApp;
  let evil: UpstreamWithAs;
  let honest: UpstreamWithAs;

  beforeAll(async () => {
    app = await startTestApp(kind);
    [evil, honest] = await Promise.all([startUpstreamWithAs({ rfc9207: false }), startUpstreamWithAs({ rfc9207: false })]);
    for (const as of [evil, honest]) as.allowOrigin(app.url);
  }, 60_000);
  afterAll(async () => {
    await app?.services.upstreams.close();
    await Promise.all([evil?.close(), honest?.close()]);
    await app?.close();
  });

  /** The victim opens the connect page of `name` and submits it: the authorization request our gateway made. */
  async function authorizationRequest(t: TenantCtx, b: Browser, name: string): Promise<URL> {
    const pageUrl = `${app.url}/t/${t.slug}/connect/${name}`;
    const body = await (await b.request(pageUrl)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(body)![1]!;
    const post = await b.postForm(pageUrl, { csrf });
    expect(post.status).toBe(303);
    return new URL(post.headers.get('location')!);
  }

  /** The malicious server's move: the same request, re-addressed to the honest server with our client there. */
  async function bounceToHonest(t: TenantCtx, b: Browser, ours: URL, honestName: string, account: string): Promise<URL> {
    // Our client at the honest server, and the redirect URI registered there (as its own requests show).
    const own = await authorizationRequest(t, b, honestName);
    const registered = own.searchParams.get('redirect_uri')!;
    const client = { clientId: own.searchParams.get('client_id') };
    const bounced = new URL(`${honest.issuer}/auth`);
    for (const k of ['response_type', 'state', 'code_challenge', 'code_challenge_method', 'scope']) bounced.searchParams.set(k, ours.searchParams.get(k) ?? '');
    bounced.searchParams.set('client_id', client.clientId!);
    bounced.searchParams.set('redirect_uri', registered);
    bounced.searchParams.set('resource', honest.url);
    honest.nextAccount = account;
    const { url } = await b.follow(bounced.href, {}, (u) => u.startsWith(`${app.url}/t/${t.slug}/upstream-oauth/callback`));
    return new URL(url);
  }

  it('an honest server\'s code that comes back for a flow started at another upstream is refused and never reaches that upstream', { timeout: 120_000 }, async () => {
    for (const registration of ['dcr', 'preregistered'] as const) {
      const t = await app.createTenant();
      const victim = await createUser(t, 'victim@example.com');
      const pre = (as: UpstreamWithAs) => (registration === 'preregistered' ? { 'client-id': as.clientId, 'client-secret': as.clientSecret } : {});
      await cli(app, 'upstream add', { tenant: t.slug, name: 'evil', url: evil.url, auth: 'oauth-per-user', ...pre(evil) });
      await cli(app, 'upstream add', { tenant: t.slug, name: 'docs', url: honest.url, auth: 'oauth-per-user', ...pre(honest) });
      const b = await signedIn(app, t, victim);
      // The victim uses the honest upstream already (so the gateway has a client there).
      expect((await connectAccount(app, t, b, 'docs', honest, 'victim-at-docs')).status).toBe(200);

      const ours = await authorizationRequest(t, b, 'evil');
      expect(ours.origin).toBe(evil.issuer);
      const callback = await bounceToHonest(t, b, ours, 'docs', 'victim-at-docs');
      expect(callback.searchParams.get('code')).toBeTruthy();
      expect(callback.searchParams.get('iss')).toBeNull();
      const postsBefore = evil.tokenPosts.length;
      const res = await b.request(callback.href);
      expect(res.status, registration).toBe(400);
      expect(await res.text()).toContain('did not come from the expected sign-in service');
      // The honest server's code and our verifier never reached the malicious token endpoint.
      expect(evil.tokenPosts.length, registration).toBe(postsBefore);
      const upstreams = await t.db.upstream.findMany({ where: { name: 'evil' }, select: { id: true } });
      expect(await t.db.upstreamConnection.count({ where: { upstreamId: upstreams[0]!.id } })).toBe(0);
    }
  });

  it('each upstream has its own redirect URI: printed by add, registered dynamically, listed in no one else\'s flow', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const u = await createUser(t, 'ann@example.com');
    const a = await cli(app, 'upstream add', { tenant: t.slug, name: 'one', url: honest.url, auth: 'oauth-per-user' });
    const c = await cli(app, 'upstream add', { tenant: t.slug, name: 'two', url: evil.url, auth: 'oauth-per-user' });
    expect(a.redirectUri).toBe(`${app.url}/t/${t.slug}/upstream-oauth/callback/${a.id}`);
    expect(c.redirectUri).toBe(`${app.url}/t/${t.slug}/upstream-oauth/callback/${c.id}`);
    const b = await signedIn(app, t, u);
    expect((await authorizationRequest(t, b, 'one')).searchParams.get('redirect_uri')).toBe(a.redirectUri);
    expect(await t.db.upstreamOAuthClient.findFirst({ where: { upstreamId: String(a.id) }, select: { redirectUri: true, sharedRedirectUri: true } })).toEqual({ redirectUri: a.redirectUri, sharedRedirectUri: false });
    // A response for "one" that arrives at the redirect URI of "two" is refused, even with the right server's code.
    const cb = await bounceToHonest(t, b, await authorizationRequest(t, b, 'one'), 'one', 'ann');
    const elsewhere = new URL(cb);
    elsewhere.pathname = elsewhere.pathname.replace(String(a.id), String(c.id));
    expect((await b.request(elsewhere.href)).status).toBe(400);
  });

  it('a client registered with the shared callback keeps it until moved; `upstream own-redirect-uri` moves it', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const u = await createUser(t, 'old@example.com');
    const added = await cli(app, 'upstream add', { tenant: t.slug, name: 'old', url: honest.url, auth: 'oauth-per-user', 'client-id': honest.clientId, 'client-secret': honest.clientSecret });
    // As the migration leaves a client pre-registered before decision 0060.
    await t.db.upstreamOAuthClient.updateMany({ where: { upstreamId: String(added.id) }, data: { sharedRedirectUri: true } });
    expect((await cli(app, 'upstream list', { tenant: t.slug })).upstreams).toMatchObject([{ name: 'old', sharedRedirectUri: true }]);
    const b = await signedIn(app, t, u);
    const shared = `${app.url}/t/${t.slug}/upstream-oauth/callback`;
    expect((await authorizationRequest(t, b, 'old')).searchParams.get('redirect_uri')).toBe(shared);
    expect((await connectAccount(app, t, b, 'old', honest, 'old-user')).status).toBe(200);

    const moved = await cli(app, 'upstream own-redirect-uri', { tenant: t.slug, name: 'old' });
    expect(moved).toMatchObject({ moved: true, registration: 'preregistered', redirectUri: `${shared}/${added.id}` });
    expect(((await cli(app, 'upstream list', { tenant: t.slug })).upstreams as object[])[0]).not.toHaveProperty('sharedRedirectUri');
    const after = await authorizationRequest(t, b, 'old');
    expect(after.searchParams.get('redirect_uri')).toBe(`${shared}/${added.id}`);
    // A flow started on the own URI is not taken at the shared one.
    const cb = await bounceToHonest(t, b, after, 'old', 'old-user');
    const atShared = new URL(cb);
    atShared.pathname = `/t/${t.slug}/upstream-oauth/callback`;
    expect((await b.request(atShared.href)).status).toBe(400);
    expect(await cli(app, 'upstream own-redirect-uri', { tenant: t.slug, name: 'old' })).toMatchObject({ moved: false });
  });

  it('a flow of a client known by our metadata document needs the right iss in every response, promised or not', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const u = await createUser(t, 'cimd@example.com');
    const added = await cli(app, 'upstream add', { tenant: t.slug, name: 'doc', url: honest.url, auth: 'oauth-per-user' });
    const b = await signedIn(app, t, u);
    expect((await connectAccount(app, t, b, 'doc', honest, 'cimd-user')).status).toBe(200);
    // A client recorded as CIMD with a server that does not send iss (chosen before decision 0060).
    await t.db.upstreamOAuthClient.updateMany({ where: { upstreamId: String(added.id) }, data: { registration: 'cimd' } });
    const ours = await authorizationRequest(t, b, 'doc');
    const cb = new URL(`${app.url}/t/${t.slug}/upstream-oauth/callback/${added.id}`);
    cb.searchParams.set('state', ours.searchParams.get('state')!);
    cb.searchParams.set('code', 'a-code-from-somewhere');
    const posts = honest.tokenPosts.length;
    const res = await b.request(cb.href);
    expect(res.status).toBe(400);
    expect(honest.tokenPosts.length).toBe(posts);

    // Our document lists the redirect URIs of its own upstreams only, never the shared callback.
    const other = await cli(app, 'upstream add', { tenant: t.slug, name: 'dcr', url: evil.url, auth: 'oauth-per-user' });
    const doc = (await (await fetch(`${app.url}/t/${t.slug}/upstream-oauth/client-metadata.json`)).json()) as { redirect_uris: string[] };
    expect(doc.redirect_uris).toEqual([`${app.url}/t/${t.slug}/upstream-oauth/callback/${added.id}`]);
    expect(doc.redirect_uris).not.toContain(`${app.url}/t/${t.slug}/upstream-oauth/callback/${other.id}`);
  });
});
