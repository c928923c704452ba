import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { registerClient, tokenRequest } from '../oauth/support/oauth-client.js';
import { cli } from '../sso/support/sso-fixtures.js';
import { consoleOf, describeInBrowser, launchChromium, screenshot, startStubSite, type StubSite } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startFormLoginIdp, type FormLoginIdp } from './support/form-login-idp.js';
import { authorizeUrl, signedInPage } from './support/oauth-browser.js';
import { expectAccessiblePage, expectReflowAt320, tabTo, waitForFocus } from './support/pages.js';

/**
 * The OAuth consent page in headless Chromium, reached through a real authorization request (PKCE S256) after a
 * real SSO sign-in: what it shows, keyboard approval and denial, and that no other site can frame it.
 */
describeInBrowser('OAuth consent page in Chromium', () => {
  let app: TestApp;
  let idp: FormLoginIdp;
  let browser: Browser;
  let client: StubSite; // the MCP client's loopback redirect URI
  const framerPages: Record<string, string> = {};
  let framer: StubSite; // another origin that tries to frame the consent page
  beforeAll(async () => {
    [app, idp, browser, client, framer] = await Promise.all([startTestApp('pglite'), startFormLoginIdp(), launchChromium(), startStubSite(), startStubSite(framerPages)]);
    idp.allowOrigin(app.url);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([client?.close(), framer?.close(), idp?.close()]);
    await app?.close();
  });

  /** A tenant with the corporate IdP, two approved upstream tools and one unapproved one. */
  async function tenant(): Promise<TenantCtx> {
    const t = await app.createTenant(undefined, 'Initech');
    await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': idp.clientSecret });
    const upstream = await t.db.upstream.create({ data: { id: newId('ups'), tenantId: t.id, name: 'crm', url: 'http://127.0.0.1:9/mcp' } });
    const tool = (name: string, description: string, approved: boolean) =>
      ({ id: newId('tool'), tenantId: t.id, name: `crm__${name}`, kind: 'upstream', upstreamId: upstream.id, upstreamToolName: name, description, approved, everyone: approved });
    await t.db.tool.createMany({ data: [tool('search_accounts', 'Search CRM accounts', true), tool('delete_account', 'Delete an account', false), tool('read_notes', 'Read <b>notes</b>', true)] });
    return t;
  }

  const isConsentPage = (t: TenantCtx) => (r: { url(): string; status(): number; request(): { method(): string } }) =>
    r.url().startsWith(`${app.url}/t/${t.slug}/oauth/interaction/`) && r.request().method() === 'GET' && r.status() === 200;

  it('after SSO sign-in shows the app, where it returns, the localhost warning and the tools; Enter approves', async () => {
    const t = await tenant();
    const redirectUri = `${client.origin}/callback`;
    const app1 = await registerClient(app, t, { client_name: 'Keyboard App', redirect_uris: [redirectUri] });
    const { url, verifier } = authorizeUrl(app, t, app1.client_id, redirectUri, 'st-approve');
    const page = await (await browser.newContext()).newPage();
    const messages = consoleOf(page);
    await page.goto(url); // no session yet: the tenant's only IdP asks for the e-mail
    await page.getByLabel('Work e-mail').fill('carol@corp.example');
    const consent = page.waitForResponse(isConsentPage(t));
    // The response arrives before its document is loaded: wait for that too before reading the page.
    await Promise.all([page.waitForURL(`${app.url}/t/${t.slug}/oauth/interaction/**`), page.getByRole('button', { name: 'Sign in' }).click()]);
    const headers = (await consent).headers();
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(headers['cache-control']).toBe('no-store');

    await expectAccessiblePage(page, { title: /^Allow Keyboard App to use Initech tools\? · Initech$/, tenant: 'Initech' });
    const main = await page.locator('main').innerText();
    expect(main).toContain('Signed in as carol@corp.example');
    expect(main).toContain(`you will be sent to ${new URL(redirectUri).host}`);
    expect(await page.getByRole('note').filter({ hasText: 'This app runs on your own computer' }).count()).toBe(1);
    const tools = await page.getByRole('listitem').allInnerTexts();
    expect(tools).toEqual(expect.arrayContaining(['crm__read_notes — Read <b>notes</b>', 'crm__search_accounts — Search CRM accounts']));
    expect(await page.getByRole('heading', { level: 2 }).innerText()).toBe(`Tools this app will be able to call (${tools.length})`);
    expect(main).not.toContain('delete_account');
    await screenshot(page, 'consent');
    await expectReflowAt320(page);

    // Keyboard only: the approve control has the focus on arrival; Enter submits it.
    await waitForFocus(page, 'Allow');
    await Promise.all([page.waitForURL(`${redirectUri}?**`), page.keyboard.press('Enter')]);
    const back = new URL(page.url());
    expect(back.searchParams.get('state')).toBe('st-approve');
    expect(back.searchParams.get('iss')).toBe(`${app.url}/t/${t.slug}`);
    const tokens = await tokenRequest(app, t, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirectUri, client_id: app1.client_id, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    expect(messages.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
    await page.context().close();
  });

  it('Tab to Deny + Enter returns error=access_denied with state and iss; no warning for a non-loopback client', async () => {
    const t = await tenant();
    const redirectUri = `${client.origin}/callback`;
    const app2 = await registerClient(app, t, { client_name: 'Deny App', redirect_uris: [redirectUri, 'https://deny-app.example/cb'] });
    const page = await signedInPage(app, browser, t);
    await page.goto(authorizeUrl(app, t, app2.client_id, redirectUri, 'st-deny').url);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Allow Deny App to use Initech tools?');
    expect(await page.locator('main').innerText()).not.toContain('This app runs on your own computer');
    await tabTo(page, /^Deny$/);
    await Promise.all([page.waitForURL(`${redirectUri}?**`), page.keyboard.press('Enter')]);
    const back = new URL(page.url());
    expect(Object.fromEntries(back.searchParams)).toMatchObject({ error: 'access_denied', state: 'st-deny', iss: `${app.url}/t/${t.slug}` });
    expect(back.searchParams.get('code')).toBeNull();
    await page.context().close();
  });

  it('renders a hostile client name as text: no script runs (escaping + CSP)', async () => {
    const t = await tenant();
    const redirectUri = `${client.origin}/callback`;
    const name = `<img src=x onerror="alert('xss')"><script>alert('xss')</script>`;
    const evil = await registerClient(app, t, { client_name: name, redirect_uris: [redirectUri] });
    const page = await signedInPage(app, browser, t);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(authorizeUrl(app, t, evil.client_id, redirectUri, 'st-xss').url);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(`Allow ${name} to use Initech tools?`);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });

  it('cannot be framed by another origin (CSP frame-ancestors and X-Frame-Options)', async () => {
    const t = await tenant();
    const redirectUri = `${client.origin}/callback`;
    const app3 = await registerClient(app, t, { client_name: 'Framed App', redirect_uris: [redirectUri] });
    const page = await signedInPage(app, browser, t);
    await page.goto(authorizeUrl(app, t, app3.client_id, redirectUri, 'st-frame').url);
    const consentUrl = page.url();
    expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(1); // this browser would see the page

    // Same site (127.0.0.1), other origin: the SameSite=Lax interaction and session cookies would be sent.
    framerPages['/frame'] = `<!doctype html><title>framer</title><iframe id="victim" src="${consentUrl}"></iframe><iframe id="control" src="/own"></iframe>`;
    const messages = consoleOf(page);
    const served = page.waitForResponse((r) => r.url() === consentUrl);
    await page.goto(`${framer.origin}/frame`);
    expect((await served).status()).toBe(200); // the server did render the consent page for the frame…
    await page.frameLocator('#control').getByRole('heading', { name: 'Stub /own' }).waitFor(); // iframes work here
    const victim = page.frames().find((f) => f !== page.mainFrame() && !f.url().startsWith(framer.origin));
    expect(victim).toBeDefined();
    await expect.poll(() => messages.some((m) => /violates the following Content Security Policy directive: "frame-ancestors 'none'"/.test(m))).toBe(true);
    expect(victim!.url()).toMatch(/^chrome-error:/); // …and the browser refused to show it
    expect(await page.frameLocator('#victim').getByRole('button', { name: 'Allow' }).count()).toBe(0);
    await page.context().close();
  });
});
