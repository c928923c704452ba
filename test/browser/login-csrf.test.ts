import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { Browser as NodeBrowser } from '../sso/support/browser.js';
import { makeSamlIdp, readAuthnRequest, type TestSamlIdp } from '../sso/support/saml-idp.js';
import { startSpInitiated, tenantWithSaml } from '../sso/support/sso-fixtures.js';
import { describeInBrowser, launchChromium } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
const autoPost = (acs: string, samlResponse: string, relayState: string) => `<!doctype html><html lang="en"><title>IdP</title>
<form method="post" action="${esc(acs)}"><input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}">
<input type="hidden" name="RelayState" value="${esc(relayState)}"></form><script>document.forms[0].submit()</script></html>`;

/**
 * Issue 8 §2 in a real browser, where SameSite matters: the app is on 127.0.0.1, the SAML IdP on `localhost` — another
 * *site* — so its auto-submitted POST to the ACS is a cross-site top-level POST, which carries no SameSite=Lax cookie.
 */
describeInBrowser('login CSRF and the SAML ACS hop in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let idpServer: http.Server;
  let idp: TestSamlIdp;
  let t: TenantCtx;
  let spMetadata: string;
  let nextUser = 'ann@example.com';
  let attackPage = '';
  beforeAll(async () => {
    [app, browser] = await Promise.all([startTestApp('pglite'), launchChromium()]);
    idpServer = http.createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const acs = `${app.url}/t/${t.slug}/saml/acs`;
        if (url.pathname === '/sso') {
          const { id } = readAuthnRequest(url.href);
          const response = await idp.response(spMetadata, { nameId: nextUser, inResponseTo: id });
          return void res.writeHead(200, { 'content-type': 'text/html' }).end(autoPost(acs, response, url.searchParams.get('RelayState') ?? ''));
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end(attackPage);
      })();
    });
    await new Promise<void>((r) => idpServer.listen(0, '127.0.0.1', r));
    idp = makeSamlIdp(`http://localhost:${(idpServer.address() as AddressInfo).port}/saml`);
    ({ t, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false }));
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => idpServer?.close(r));
    await app?.close();
  });

  async function signIn(page: Page, email: string) {
    nextUser = email;
    await page.goto(`${app.url}/t/${t.slug}/saml/login?return_to=${encodeURIComponent(`/t/${t.slug}/api/me`)}`);
    await page.waitForURL(`${app.url}/t/${t.slug}/api/me`);
    expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ email });
  }

  it('SP-initiated across sites: the binding and session cookies reach /saml/complete; a new login revokes the old session', async () => {
    const page = await (await browser.newContext()).newPage();
    const hops: string[] = [];
    page.on('request', (r) => void hops.push(`${r.method()} ${new URL(r.url()).pathname}`));
    await signIn(page, 'ann@example.com');
    expect(hops).toEqual(expect.arrayContaining(['POST /t/' + t.slug + '/saml/acs', 'GET /t/' + t.slug + '/saml/complete']));
    const cookies = await page.context().cookies(app.url);
    expect(cookies.find((c) => c.name === 'sb_login')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(cookies.find((c) => c.name === 'sb_acs')).toBeUndefined(); // spent and cleared
    const ann = await t.db.user.findFirstOrThrow({ where: { email: 'ann@example.com' } });
    expect(await t.db.session.count({ where: { userId: ann.id, revokedAt: null } })).toBe(1);
    const sent = new Map<string, string>();
    page.on('request', (r) => void r.allHeaders().then((h) => sent.set(`${r.method()} ${new URL(r.url()).pathname}`, h.cookie ?? '')));
    await signIn(page, 'bob@example.com');
    // The premise, checked: the cross-site POST carried no Lax cookie; the GET it was sent on to carried both.
    expect(sent.get(`POST /t/${t.slug}/saml/acs`)).not.toMatch(/sb_session_|sb_login/);
    expect(sent.get(`GET /t/${t.slug}/saml/complete`)).toMatch(/sb_session_.*|sb_login/);
    expect(sent.get(`GET /t/${t.slug}/saml/complete`)).toMatch(new RegExp(`sb_session_${t.id}=`));
    // The previous session ended although the IdP's POST could not carry its cookie.
    expect(await t.db.session.count({ where: { userId: ann.id, revokedAt: null } })).toBe(0);
  });

  it("an attacker's page posting the attacker's own response into the victim's browser does not sign the victim in", async () => {
    const page = await (await browser.newContext()).newPage();
    await signIn(page, 'victim@example.com');
    // The attacker starts a login in their own browser and gets the IdP's answer for their own account.
    const req = await startSpInitiated(app, t, new NodeBrowser());
    attackPage = autoPost(`${app.url}/t/${t.slug}/saml/acs`, await idp.response(spMetadata, { nameId: 'mallory@example.com', inResponseTo: req.id }), req.relayState);
    const statuses: number[] = [];
    page.on('response', (r) => void (r.url().endsWith('/saml/complete') && statuses.push(r.status())));
    await page.goto(`http://localhost:${(idpServer.address() as AddressInfo).port}/attack`);
    await page.waitForURL(`${app.url}/t/${t.slug}/saml/complete`);
    expect(await page.getByRole('alert').innerText()).toMatch(/started in another browser/);
    expect(statuses).toEqual([400]);
    const me = await page.goto(`${app.url}/t/${t.slug}/api/me`);
    expect(await me?.json()).toMatchObject({ email: 'victim@example.com' });
  });
});
