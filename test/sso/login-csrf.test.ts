import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { bindBrowser, browserBindingProblem } from '../../src/sso/browser-binding.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import type { TestOidcIdp } from './support/oidc-idp.js';
import { hostileReturnTos } from './support/redirect-variants.js';
import { makeSamlIdp } from './support/saml-idp.js';
import { cli, oidcLogin, postToAcs, samlLogin, startSpInitiated, tenantWithOidc, tenantWithSaml, useAppWithOidcIdp } from './support/sso-fixtures.js';

const fakeServices = (publicUrl: string) => ({ config: { publicUrl } }) as Services;
function fakeExchange(cookie?: string) {
  const set: string[] = [];
  return { req: { headers: cookie ? { cookie } : {} } as ExpressRequest, res: { append: (_n: string, v: string) => void set.push(v) } as unknown as ExpressResponse, set };
}

describe('the login binding cookie', () => {
  it('is HttpOnly, SameSite=Lax, Path=/, short-lived; __Host- and Secure with an https PUBLIC_URL', () => {
    const https = fakeExchange();
    const hash = bindBrowser(fakeServices('https://sso.example.com'), https.req, https.res);
    expect(https.set[0]).toMatch(/^__Host-sb_login=[A-Za-z0-9_-]{43}; Max-Age=900; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const http = fakeExchange();
    bindBrowser(fakeServices('http://localhost:3000'), http.req, http.res);
    expect(http.set[0]).toMatch(/^sb_login=[A-Za-z0-9_-]{43}; Max-Age=900; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  it('reuses a well-formed nonce (parallel logins in tabs), replaces a malformed one, and compares in constant time', () => {
    const s = fakeServices('https://sso.example.com');
    const first = fakeExchange();
    const hash = bindBrowser(s, first.req, first.res);
    const nonce = /=([^;]+)/.exec(first.set[0]!)![1]!;
    const again = fakeExchange(`__Host-sb_login=${nonce}`);
    expect(bindBrowser(s, again.req, again.res)).toBe(hash);
    expect(browserBindingProblem(s, again.req, hash)).toBeNull();
    const planted = fakeExchange('__Host-sb_login=short');
    expect(bindBrowser(s, planted.req, planted.res)).not.toBe(hash);
    // The unprefixed name does not count on https (a sibling subdomain could have set it).
    expect(browserBindingProblem(s, fakeExchange(`sb_login=${nonce}`).req, hash)).toMatch(/did not send/);
    for (const expected of [undefined, null, '', 'x', hash.toUpperCase(), 42]) expect(browserBindingProblem(s, again.req, expected)).toMatch(/another browser/);
  });
});

describe.each(testDbKinds)('login CSRF: OIDC (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    idp = i;
  });

  /** The attacker runs a login in their own browser and stops at our callback URL (code + state), unused. */
  async function capturedCallback(t: TenantCtx, sub: string, start = `${app.url}/t/${t.slug}/oidc/login`) {
    idp.accounts.set(sub, { sub, email: `${sub}@example.com` });
    idp.nextAccount = sub;
    const attacker = new Browser();
    const { url } = await attacker.follow(start, {}, (u) => u.includes('/oidc/callback'));
    expect(url).toContain('code=');
    return { attacker, url };
  }

  async function expectRefused(b: Browser, url: string, t: TenantCtx) {
    const res = await b.request(url);
    const page = await res.text();
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(page).toContain('started in another browser');
    const trace = await cli(app.services, 'sso-trace show', { id: /trc_[0-9a-z]+/.exec(page)![0] });
    expect(trace).toMatchObject({ stage: 'oidc.state', reason: expect.stringMatching(/^browser_mismatch: /) });
    expect((await me(b, app.url, t.slug)).status).toBe(401);
    return trace;
  }

  it("a callback captured in the attacker's browser does not sign the victim's browser in (no cookie, other cookie, forged cookie)", async () => {
    const { t } = await tenantWithOidc(app, idp);
    const noCookie = await capturedCallback(t, 'mallory');
    expect((await expectRefused(new Browser(), noCookie.url, t)).reason).toMatch(/did not send/);
    // Spent: the attacker cannot use it afterwards either.
    expect((await noCookie.attacker.request(noCookie.url)).status).toBe(400);

    const victim = new Browser();
    await victim.request(`${app.url}/t/${t.slug}/oidc/login`); // the victim's own login in progress: its own nonce
    const otherCookie = await capturedCallback(t, 'mallory');
    expect((await expectRefused(victim, otherCookie.url, t)).reason).toMatch(/does not match/);

    const forged = new Browser();
    forged.cookies(app.url).set('sb_login', 'A'.repeat(43));
    await expectRefused(forged, (await capturedCallback(t, 'mallory')).url, t);
  });

  it('the shared callback (multi-tenant app registrations) refuses the same way', async () => {
    const { t } = await tenantWithOidc(app, idp, { 'shared-callback': true });
    const { url } = await capturedCallback(t, 'mallory-shared');
    expect(new URL(url).pathname).toBe('/oidc/callback');
    await expectRefused(new Browser(), url, t);
  });

  it('the browser that started the login completes it, also with a second login started in another tab', async () => {
    const { t } = await tenantWithOidc(app, idp);
    idp.accounts.set('tabs', { sub: 'tabs', email: 'tabs@example.com' });
    idp.nextAccount = 'tabs';
    const b = new Browser();
    const tab1 = await b.follow(`${app.url}/t/${t.slug}/oidc/login?return_to=%2Ft%2F${t.slug}%2Fapi%2Fme`, {}, (u) => u.includes('/oidc/callback'));
    // A second login started meanwhile (another tab) keeps the browser's nonce: the first one still completes.
    expect((await b.request(`${app.url}/t/${t.slug}/oidc/login`)).status).toBe(303);
    const first = await b.request(tab1.url);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(`/t/${t.slug}/api/me`);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'tabs@example.com' });
    expect((await oidcLogin(app, idp, t, { sub: 'fresh', email: 'fresh@example.com' })).cookies(app.url).has('sb_login')).toBe(true);
  });
});

describe.each(testDbKinds)('login CSRF: SAML (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const acsPost = (t: TenantCtx, SAMLResponse: string, RelayState?: string) =>
    fetch(`${app.url}/t/${t.slug}/saml/acs`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ SAMLResponse, ...(RelayState !== undefined && { RelayState }) }) });

  async function refusal(res: Response, message: RegExp) {
    const page = await res.text();
    expect(res.status).toBe(400);
    expect(page).toMatch(message);
    return cli(app.services, 'sso-trace show', { id: /trc_[0-9a-z]+/.exec(page)![0] });
  }

  it("SP-initiated: the attacker's own response, posted from the victim's browser, does not sign the victim in", async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false });
    const attacker = new Browser();
    const req = await startSpInitiated(app, t, attacker);
    expect(attacker.cookies(app.url).get('sb_login')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const response = await idp.response(spMetadata, { nameId: 'mallory@example.com', inResponseTo: req.id });
    // The victim already has a session of their own, and a login of their own in progress.
    const victim = (await samlLogin(app, t, idp, spMetadata, { nameId: 'victim@example.com' })).browser;
    await startSpInitiated(app, t, victim);
    const raw = await postToAcs(app, t, victim, response, req.relayState, true);
    expect(raw.status).toBe(303);
    expect(raw.headers.get('location')).toBe(`/t/${t.slug}/saml/complete`);
    expect(raw.headers.getSetCookie().find((c) => c.startsWith('sb_acs='))).toMatch(/; Max-Age=120; Path=\/; HttpOnly; SameSite=Lax$/);
    const trace = await refusal(await victim.request(`${app.url}/t/${t.slug}/saml/complete`), /started in another browser/);
    expect(trace).toMatchObject({ stage: 'saml.complete', reason: expect.stringMatching(/^browser_mismatch: .*does not match/) });
    expect((await me(victim, app.url, t.slug)).body).toMatchObject({ email: 'victim@example.com' });
    // A browser without any binding cookie is refused too.
    const fresh = new Browser();
    const req2 = await startSpInitiated(app, t, attacker);
    await postToAcs(app, t, fresh, await idp.response(spMetadata, { nameId: 'mallory@example.com', inResponseTo: req2.id }), req2.relayState, true);
    expect((await refusal(await fresh.request(`${app.url}/t/${t.slug}/saml/complete`), /started in another browser/)).reason).toMatch(/did not send/);
    expect((await me(fresh, app.url, t.slug)).status).toBe(401);
  });

  it('only the browser that posted to the ACS can complete (the key is in its cookie, never in a URL), once', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false });
    const b = new Browser();
    const req = await startSpInitiated(app, t, b);
    await postToAcs(app, t, b, await idp.response(spMetadata, { nameId: 'once@example.com', inResponseTo: req.id }), req.relayState, true);
    const other = new Browser();
    other.cookies(app.url).set('sb_login', b.cookies(app.url).get('sb_login')!); // even with the binding nonce
    expect((await refusal(await other.request(`${app.url}/t/${t.slug}/saml/complete`), /expired or was already used/)).reason).toMatch(/^bad_state: no sb_acs cookie/);
    const key = b.cookies(app.url).get('sb_acs')!;
    const done = await b.request(`${app.url}/t/${t.slug}/saml/complete`);
    expect(done.status).toBe(303);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'once@example.com' });
    const replay = new Browser();
    replay.cookies(app.url).set('sb_acs', key);
    replay.cookies(app.url).set('sb_login', b.cookies(app.url).get('sb_login')!);
    expect((await refusal(await replay.request(`${app.url}/t/${t.slug}/saml/complete`), /expired or was already used/)).stage).toBe('saml.complete');
  });

  it('IdP-initiated is off for new connections, shown in `idp list`, switched per connection with `idp update --idp-initiated`', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false });
    expect(conn).toMatchObject({ idpInitiated: false });
    const unsolicited = () => idp.response(spMetadata, { nameId: 'tile@example.com' });
    const trace = await refusal(await acsPost(t, await unsolicited(), `/t/${t.slug}/api/me`), /app dashboard is turned off/);
    expect(trace).toMatchObject({ stage: 'saml.acs', reason: expect.stringMatching(/^idp_initiated_off: /) });
    expect(await cli(app.services, 'idp update', { tenant: t.slug, id: String(conn.id), 'idp-initiated': 'on' })).toMatchObject({ idpInitiated: true });
    expect((await cli(app.services, 'idp list', { tenant: t.slug })).connections).toMatchObject([{ id: conn.id, idpInitiated: true, jitEnabled: true }]);
    const b = new Browser();
    const ok = await postToAcs(app, t, b, await unsolicited(), `/t/${t.slug}/api/me`);
    expect([ok.status, ok.headers.get('location')]).toEqual([303, `/t/${t.slug}/api/me`]);
    await cli(app.services, 'idp update', { tenant: t.slug, id: String(conn.id), 'idp-initiated': 'off' });
    expect((await acsPost(t, await unsolicited())).status).toBe(400);
    await expect(cli(app.services, 'idp update', { tenant: t.slug, id: String(conn.id), 'idp-initiated': 'yes' })).rejects.toThrow(/on or off/);
    const { t: t2 } = await tenantWithSaml(app, makeSamlIdp(), { idpInitiated: false });
    const oidc = await cli(app.services, 'idp add-oidc', { tenant: t2.slug, issuer: 'https://idp.example.com', 'client-id': 'x', 'client-secret': 'y' });
    await expect(cli(app.services, 'idp update', { tenant: t2.slug, id: String(oidc.id), 'idp-initiated': 'on' })).rejects.toThrow(/SAML connections only/);
  });

  it("the migration turns IdP-initiated off on existing connections (and keeps an admin's explicit choice)", async () => {
    const idp = makeSamlIdp();
    const { t, conn } = await tenantWithSaml(app, idp, { idpInitiated: false });
    const { t: t2, conn: kept } = await tenantWithSaml(app, makeSamlIdp(), { idpInitiated: true });
    // As a connection added before this release was stored: no idpInitiated key at all.
    const row = await t.db.idpConnection.findFirstOrThrow({ where: { id: String(conn.id) } });
    const { idpInitiated: _gone, ...legacySaml } = (row.config as { saml: Record<string, unknown> }).saml;
    await t.db.idpConnection.updateMany({ where: { id: row.id }, data: { config: JSON.parse(JSON.stringify({ ...(row.config as object), saml: legacySaml })) as object } });
    const sql = readFileSync(new URL('../../prisma/migrations/20261205150000_saml_idp_initiated_off/migration.sql', import.meta.url), 'utf8');
    await app.services.db.$executeRawUnsafe(sql);
    const after = await t.db.idpConnection.findFirstOrThrow({ where: { id: row.id } });
    expect((after.config as { saml: Record<string, unknown> }).saml).toMatchObject({ idpInitiated: false, ssoUrl: idp.ssoUrl });
    expect((await cli(app.services, 'idp list', { tenant: t2.slug })).connections).toMatchObject([{ id: kept.id, idpInitiated: true }]);
  });

  it('the cross-site ACS POST (no cookies) still ends the browser\'s previous session, at /saml/complete', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: true });
    const b = (await samlLogin(app, t, idp, spMetadata, { nameId: 'first@example.com' })).browser;
    const oldToken = [...b.cookies(app.url)].find(([k]) => k.startsWith('sb_session_'))!;
    // The IdP's POST is cross-site: the browser sends no SameSite=Lax cookie with it.
    const post = await acsPost(t, await idp.response(spMetadata, { nameId: 'second@example.com' }));
    expect(post.status).toBe(303);
    for (const c of post.headers.getSetCookie()) {
      expect(c).not.toMatch(/^sb_session_/); // no session is started by the POST itself
      const [pair] = c.split(';');
      b.cookies(app.url).set(pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1));
    }
    const done = await b.request(`${app.url}${post.headers.get('location')}`);
    expect(done.status).toBe(303);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'second@example.com' });
    const old = new Browser();
    old.cookies(app.url).set(oldToken[0], oldToken[1]);
    expect((await me(old, app.url, t.slug)).status).toBe(401);
    const first = await t.db.user.findFirstOrThrow({ where: { email: 'first@example.com' } });
    expect(await t.db.session.count({ where: { userId: first.id, revokedAt: null } })).toBe(0);
  });

  it('RelayState and return_to: hostile variants end on the fallback (real Location headers)', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: true });
    const fallback = `/t/${t.slug}/login`;
    for (const v of hostileReturnTos(app.url)) {
      const req = await startSpInitiated(app, t, new Browser(), v);
      expect([v, req.relayState]).toEqual([v, fallback]);
    }
    for (const v of ['//evil.example/', '/.//evil.example/x', '/a/..//evil.example', '/%2F%2Fevil.example', '/%5C%5Cevil.example', '/\t/evil.example', `${app.url}/.//evil.example`]) {
      const res = await postToAcs(app, t, new Browser(), await idp.response(spMetadata, { nameId: 'relay@example.com' }), v);
      expect([v, res.status, res.headers.get('location')]).toEqual([v, 303, fallback]);
    }
  });
});
