import { describe, expect, it } from 'vitest';
import type { Request, Response } from 'express';
import { bindBrowser, browserBindingProblem } from '../../src/sso/browser-binding.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import type { TestOidcIdp } from './support/oidc-idp.js';
import { cli, oidcLogin, tenantWithOidc, useAppWithOidcIdp } from './support/sso-fixtures.js';

const fakeServices = (publicUrl: string) => ({ config: { publicUrl } }) as Services;
function fakeExchange(cookie?: string) {
  const set: string[] = [];
  return { req: { headers: cookie ? { cookie } : {} } as Request, res: { append: (_n: string, v: string) => void set.push(v) } as unknown as Response, set };
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
