import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addSamlConnection } from '../../src/sso/connections/add-saml-connection.js';
import { showSsoTrace } from '../../src/sso/traces/sso-traces.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { makeSamlIdp, type TestSamlIdp } from '../sso/support/saml-idp.js';
import { cli } from '../sso/support/sso-fixtures.js';
import { describeInBrowser, launchChromium, screenshot, startStubSite, type StubSite } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startFormLoginIdp, type FormLoginIdp } from './support/form-login-idp.js';
import { expectAccessiblePage, expectReflowAt320, tabTo } from './support/pages.js';

/** The SSO pages (chooser, sign-in, failures) in headless Chromium against a real OIDC IdP with a login form. */
describeInBrowser('SSO pages in Chromium', () => {
  let app: TestApp;
  let idp: FormLoginIdp;
  let browser: Browser;
  let samlSite: StubSite;
  beforeAll(async () => {
    [app, idp, browser, samlSite] = await Promise.all([startTestApp('pglite'), startFormLoginIdp(), launchChromium(), startStubSite()]);
    idp.allowOrigin(app.url);
  });
  afterAll(async () => {
    await browser?.close();
    await samlSite?.close();
    await idp?.close();
    await app?.close();
  });

  async function tenantWithOidc(extra: Record<string, string | string[] | boolean> = {}, name?: string) {
    const t = await app.createTenant(undefined, name);
    const conn = await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': idp.clientSecret, name: 'Corp IdP', ...extra });
    return { t, conn };
  }

  /** A tenant with two IdPs: OIDC for corp.example, SAML (SSO URL on a stub site) for subsidiary.example. */
  async function chooserTenant(): Promise<{ t: TenantCtx; saml: TestSamlIdp }> {
    const { t } = await tenantWithOidc({ 'allowed-domain': ['corp.example'] }, 'Acme & Sons');
    const saml = makeSamlIdp(`${samlSite.origin}/${t.slug}/saml`);
    await addSamlConnection(app.services, t, { metadataXml: saml.metadata(), name: 'Okta SAML', allowedDomains: ['subsidiary.example'] });
    return { t, saml };
  }

  const newPage = async (): Promise<Page> => (await browser.newContext()).newPage();

  it('chooser: accessible, names the tenant, and Tab + Enter picks an IdP (OIDC authorization URL, SAML SSO URL)', async () => {
    const { t, saml } = await chooserTenant();
    const page = await newPage();
    const res = await page.goto(`${app.url}/t/${t.slug}/login`);
    expect(res?.status()).toBe(200);
    await expectAccessiblePage(page, { title: /^Choose how to sign in/, tenant: 'Acme & Sons' });
    const aria = await page.locator('main').ariaSnapshot();
    expect(aria).toContain('navigation "Sign-in methods"');
    expect(aria).toContain('link "Continue with Corp IdP"');
    expect(aria).toContain('link "Continue with Okta SAML"');
    expect(aria).toContain('textbox "Or enter your work e-mail"');
    await screenshot(page, 'chooser');
    await expectReflowAt320(page);
    // WCAG 2.2 §2.5.8: targets at least 24 CSS pixels high (the IdP links are styled as buttons).
    for (const box of await Promise.all((await page.getByRole('link').all()).map((l) => l.boundingBox()))) expect(box!.height).toBeGreaterThanOrEqual(24);

    await tabTo(page, /^Continue with Corp IdP$/);
    const authRequest = page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth?`));
    await page.keyboard.press('Enter');
    const auth = new URL((await authRequest).url());
    expect(auth.searchParams.get('client_id')).toBe(idp.clientId);
    expect(auth.searchParams.get('redirect_uri')).toBe(`${app.url}/t/${t.slug}/oidc/callback`);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('state')).toBeTruthy();
    await page.getByLabel('Work e-mail').waitFor(); // the IdP's own login form is on screen

    await page.goto(`${app.url}/t/${t.slug}/login`);
    await tabTo(page, /^Continue with Okta SAML$/);
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${saml.ssoUrl}?`)), page.keyboard.press('Enter')]);
    expect(new URL(page.url()).searchParams.get('SAMLRequest')).toBeTruthy();
    await page.context().close();
  });

  it('chooser: the e-mail form routes by domain, and says so when no IdP serves the domain', async () => {
    const { t, saml } = await chooserTenant();
    const page = await newPage();
    await page.goto(`${app.url}/t/${t.slug}/login`);
    await tabTo(page, /^#email$/);
    await page.keyboard.type('someone@Subsidiary.example');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${saml.ssoUrl}?`)), page.keyboard.press('Enter')]);

    await page.goto(`${app.url}/t/${t.slug}/login`);
    await page.getByLabel('Or enter your work e-mail').fill('bob@corp.example');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${idp.issuer}/interaction/`)), page.keyboard.press('Enter')]);

    await page.goto(`${app.url}/t/${t.slug}/login`);
    await page.getByLabel('Or enter your work e-mail').fill('x@nowhere.example');
    await Promise.all([page.waitForURL(/email=/), page.keyboard.press('Enter')]);
    expect(await page.getByRole('alert').innerText()).toMatch(/No sign-in method is set up for that e-mail domain/);
    await expectAccessiblePage(page, { title: /^Choose how to sign in/, tenant: 'Acme & Sons' });
    await page.context().close();
  });

  it('signs in through the IdP login form; /api/me in the same browser returns the user; sign-out ends it', async () => {
    const { t } = await tenantWithOidc();
    const page = await newPage();
    await page.goto(`${app.url}/t/${t.slug}/login`); // one IdP: straight to its login form
    expect(page.url()).toMatch(new RegExp(`^${idp.issuer}/interaction/`));
    await page.getByLabel('Work e-mail').fill('alice@corp.example');
    await Promise.all([page.waitForURL(`${app.url}/t/${t.slug}/login`), page.getByRole('button', { name: 'Sign in' }).click()]);
    await expectAccessiblePage(page, { title: /^Signed in/, tenant: t.name });
    expect(await page.locator('main').innerText()).toContain('You are signed in as alice');
    const cookie = (await page.context().cookies(app.url)).find((c) => c.name === `sb_session_${t.id}`);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    const me = await page.goto(`${app.url}/t/${t.slug}/api/me`);
    expect(me?.status()).toBe(200);
    expect(await me?.json()).toMatchObject({ email: 'alice@corp.example', name: 'alice', groups: [] });

    await page.goto(`${app.url}/t/${t.slug}/login`);
    await tabTo(page, /^Sign out$/);
    // Our session ends, then RP-initiated logout continues to the IdP's end_session_endpoint (OIDC RP-Initiated
    // Logout 1.0 §2) with our client_id and post-logout return path.
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${idp.issuer}/session/end`)), page.keyboard.press('Enter')]);
    const endSession = new URL(page.url());
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/t/${t.slug}/logout`);
    expect((await page.goto(`${app.url}/t/${t.slug}/api/me`))?.status()).toBe(401);
    await page.context().close();
  });

  it('an SSO failure (cancel at the IdP) shows the trace id, names the tenant, and leaks nothing', async () => {
    const { t, conn } = await tenantWithOidc({}, 'Globex <Corp>');
    const page = await newPage();
    await page.goto(`${app.url}/t/${t.slug}/login`);
    const isCallback = (u: string) => u.startsWith(`${app.url}/t/${t.slug}/oidc/callback?`);
    const callback = page.waitForResponse((r) => isCallback(r.url()));
    // The response arrives before its document is loaded: wait for that too before reading the page.
    await Promise.all([page.waitForURL((u) => isCallback(u.href)), page.getByRole('button', { name: 'Cancel' }).click()]);
    const res = await callback;
    expect(res.status()).toBeGreaterThanOrEqual(400);
    expect(res.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await expectAccessiblePage(page, { title: /^Sign-in failed/, tenant: 'Globex <Corp>' });
    expect(await page.getByRole('alert').innerText()).toMatch(/contact your administrator with the trace id/);
    const traceId = await page.locator('code.trace').innerText();
    expect(traceId).toMatch(/^trc_/);
    await expectReflowAt320(page);
    await screenshot(page, 'sso-error');
    expect(await showSsoTrace(app.services, traceId)).toMatchObject({ tenant: t.slug, connectionId: conn.id });
    const html = await page.content();
    for (const leak of [idp.clientSecret, 'access_denied', 'The user cancelled', 'node_modules', /\n\s+at /, /Error:/]) expect(html).not.toMatch(leak);
    await Promise.all([page.waitForURL(new RegExp(`^${idp.issuer}/interaction/`)), page.getByRole('link', { name: 'Back to sign-in' }).click()]);
    await page.context().close();
  });

  it('an unknown user on a SCIM-managed tenant (no JIT) gets the "ask your administrator" page with a trace id', async () => {
    const { t } = await tenantWithOidc({ 'no-jit': true });
    const page = await newPage();
    await page.goto(`${app.url}/t/${t.slug}/login`);
    await page.getByLabel('Work e-mail').fill('newcomer@corp.example');
    await Promise.all([page.waitForURL(/\/oidc\/callback\?/), page.keyboard.press('Enter')]);
    await expectAccessiblePage(page, { title: /^Sign-in failed/, tenant: t.name });
    expect(await page.getByRole('alert').innerText()).toBe('You do not have an account here yet. Ask your administrator to give you access.');
    expect(await page.locator('code.trace').innerText()).toMatch(/^trc_/);
    expect((await page.goto(`${app.url}/t/${t.slug}/api/me`))?.status()).toBe(401);
    await page.context().close();
  });
});
