import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAUTH_WINDOW_MS } from '../../src/admin/http/admin-session.js';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { grantAdmin } from '../../src/sso/admin/tenant-admins.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { createGroup, signIn } from '../admin/support.js';
import { cli } from '../sso/support/sso-fixtures.js';
import { consoleOf, describeInBrowser, launchChromium, screenshot, startStubSite, type StubSite } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { expectNoSeriousAxeViolations } from './support/axe.js';
import { startFormLoginIdp, type FormLoginIdp } from './support/form-login-idp.js';
import { expectAccessiblePage, expectReflowAt320, tabTo } from './support/pages.js';

/** The tenant admin console (issue 15) in headless Chromium: SSO sign-in, every page, refusals, keyboard, axe. */
describeInBrowser('admin console in Chromium', () => {
  let app: TestApp;
  let idp: FormLoginIdp;
  let browser: Browser;
  let site: StubSite;
  beforeAll(async () => {
    [app, idp, browser] = await Promise.all([startTestApp('pglite'), startFormLoginIdp(), launchChromium()]);
    idp.allowOrigin(app.url);
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await idp?.close();
    await app?.close();
  });

  async function tenantWithOidc(): Promise<TenantCtx> {
    const t = await app.createTenant(undefined, 'Acme Corp');
    await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': idp.clientSecret, name: 'Corp IdP' });
    return t;
  }

  /** A fresh browser context holding an admin session (as a sign-in leaves it). */
  async function adminPage(t: TenantCtx): Promise<{ page: Page; userId: string }> {
    const admin = await signIn(app, t, { admin: true, email: `admin${Date.now()}@corp.example` });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addCookies([{ name: sessionCookieName(app.url, t), value: admin.token, url: app.url }]);
    return { page: await context.newPage(), userId: admin.userId };
  }

  /** The tenant's browser sessions now carry an SSO sign-in older than the re-authentication window. */
  async function makeSignInStale(t: TenantCtx) {
    const old = new Date(app.clock.now().getTime() - REAUTH_WINDOW_MS - 60_000).toISOString();
    for (const row of await t.db.session.findMany({ select: { id: true, data: true } })) {
      await t.db.session.updateMany({ where: { id: row.id }, data: { data: { ...(row.data as object), authTime: old } } });
    }
  }

  async function ssoLogin(page: Page, email: string) {
    await page.waitForURL(new RegExp(`^${idp.issuer}/interaction/`));
    await page.getByLabel('Work e-mail').fill(email);
    await Promise.all([page.waitForURL(`${app.url}/t/**`), page.getByRole('button', { name: 'Sign in' }).click()]);
  }

  it('signs in through the tenant’s SSO; a non-admin is refused; after `admin grant` the console opens with a strict CSP', async () => {
    const t = await tenantWithOidc();
    const page = await (await browser.newContext()).newPage();
    const messages = consoleOf(page);
    await page.goto(`${app.url}/t/${t.slug}/admin/tools`);
    await ssoLogin(page, 'carol@corp.example');
    expect(page.url()).toBe(`${app.url}/t/${t.slug}/admin/tools`);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Administrators only');
    const refused = await page.reload();
    expect(refused?.status()).toBe(403);

    await grantAdmin(t, 'carol@corp.example');
    const res = await page.goto(`${app.url}/t/${t.slug}/admin`);
    expect(res?.status()).toBe(200);
    await expectAccessiblePage(page, { title: /^Overview · Acme Corp admin$/, tenant: 'Acme Corp' });
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    // No inline handlers anywhere, and the page's own script ran under its nonce (copy buttons are revealed by it).
    expect(await page.evaluate(() => [...document.querySelectorAll('*')].some((el) => [...el.attributes].some((a) => a.name.startsWith('on'))))).toBe(false);
    expect(messages.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);

    // Stale sign-in: a new SCIM token asks to sign in again; the fresh SSO round trip brings the admin back.
    // (The sign-in is made old in the database, not by moving the app's clock: the re-authentication's fresh
    // auth_time, from the IdP's real clock, must be checked against the time we asked.)
    await makeSignInStale(t);
    await page.goto(`${app.url}/t/${t.slug}/admin/provisioning`);
    await page.getByLabel('Label').fill('Okta');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('alert').filter({ hasText: 'confirm it is you' }).waitFor();
    expect(await t.db.scimToken.count()).toBe(0);
    await page.getByRole('link', { name: 'Sign in again' }).click();
    await ssoLogin(page, 'carol@corp.example');
    expect(page.url()).toBe(`${app.url}/t/${t.slug}/admin/provisioning`);
    await page.getByLabel('Label').fill('Okta');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: 'New SCIM token' }).waitFor();
    const token = (await page.locator('code.secret').innerText()).trim();
    expect(token).toMatch(/^scim_/);
    await page.getByRole('button', { name: 'Copy SCIM token' }).waitFor(); // revealed by the script
    // Shown once: the page after a reload does not contain it.
    await page.goto(`${app.url}/t/${t.slug}/admin/provisioning`);
    expect(await page.content()).not.toContain(token);
    expect((await fetch(`${app.url}/t/${t.slug}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    // "Test sign-in" runs a real login through the connection in a new window and shows what it mapped to.
    await page.goto(`${app.url}/t/${t.slug}/admin/sso`);
    const [popup] = await Promise.all([page.context().waitForEvent('page'), page.getByRole('link', { name: /^Test sign-in with Corp IdP/ }).click()]);
    await ssoLogin(popup, 'carol@corp.example');
    expect(popup.url()).toMatch(new RegExp(`/t/${t.slug}/admin/sso/test-result\\?connection=`));
    const result = await popup.locator('main').innerText();
    expect(result).toContain('Would sign in the linked user');
    expect(result).toContain('carol@corp.example');
    expect(result).toContain('Claims as received');
    // A dry run: the admin's own session is still the one the console runs on.
    expect((await page.goto(`${app.url}/t/${t.slug}/admin/sso`))?.status()).toBe(200);
    await page.context().close();
  }, 120_000);

  it('every page: accessible basics, axe without serious violations, reflow at 320 px', async () => {
    const t = await tenantWithOidc();
    const { page } = await adminPage(t);
    await createGroup(t, 'Engineering');
    for (const [path, title, shot] of [
      ['', 'Overview', 'admin-overview'],
      ['/sso', 'Single sign-on', 'admin-sso'],
      ['/provisioning', 'Provisioning', 'admin-provisioning'],
      ['/tools', 'Tools', 'admin-tools'],
      ['/access', 'Access', 'admin-access'],
      ['/audit', 'Audit log', 'admin-audit'],
      ['/settings', 'Settings', 'admin-settings'],
    ] as const) {
      const res = await page.goto(`${app.url}/t/${t.slug}/admin${path}`);
      expect(res?.status(), path).toBe(200);
      await expectAccessiblePage(page, { title: new RegExp(`^${title} · `), tenant: 'Acme Corp' });
      expect(await page.locator('nav a[aria-current=page]').innerText()).toBe(title === 'Audit log' ? 'Audit log' : title);
      await expectNoSeriousAxeViolations(page);
      await expectReflowAt320(page);
      await screenshot(page, shot);
    }
    await page.context().close();
  }, 180_000);

  it('tools: approve for a group with the picker, see it in the access matrix, revoke everything for a user; audit filter and export', async () => {
    const t = await tenantWithOidc();
    const { page, userId } = await adminPage(t);
    const alice = await signIn(app, t, { email: 'alice@corp.example' });
    await createGroup(t, 'Engineering', [alice.userId]);
    await createGroup(t, 'Finance');
    await page.goto(`${app.url}/t/${t.slug}/admin/tools`);
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'whoami' }) });
    await card.getByText('Change access').click();
    await card.getByLabel('Only members of these groups').check();
    await card.getByLabel('Filter groups').fill('eng');
    expect(await card.getByText('Finance').isVisible()).toBe(false);
    await card.getByRole('checkbox', { name: /Engineering/ }).check();
    await card.getByRole('button', { name: 'Approve whoami' }).click();
    await page.getByRole('status').filter({ hasText: 'Tool access saved' }).waitFor();
    expect(await page.locator('section.card', { has: page.getByRole('heading', { name: 'whoami' }) }).innerText()).toContain('Groups: Engineering');

    await page.goto(`${app.url}/t/${t.slug}/admin/access?tool=whoami`);
    expect(await page.getByRole('heading', { name: 'Who can call whoami' }).isVisible()).toBe(true);
    expect(await page.locator('main').innerText()).toContain('alice');
    await page.goto(`${app.url}/t/${t.slug}/admin/access?user=${alice.userId}`);
    await screenshot(page, 'admin-access-user');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke everything for this user' }).click();
    await page.getByRole('status').filter({ hasText: 'Everything for this user has been revoked' }).waitFor();
    expect((await fetch(`${app.url}/t/${t.slug}/api/me`, { headers: { cookie: alice.cookie } })).status).toBe(401);

    await page.goto(`${app.url}/t/${t.slug}/admin/audit`);
    await page.getByLabel('Event type').fill('tool.approve');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/type=tool.approve/);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain(userId);
    const href = await page.getByRole('link', { name: 'CSV' }).getAttribute('href');
    const csv = await page.evaluate(async (u) => (await fetch(u!)).text(), href);
    expect(csv.trim().split('\n')).toHaveLength(2);
    expect(csv).toContain('tool.approve');
    await page.context().close();
  }, 120_000);

  it('refuses a cross-site form post (CSRF) into a signed-in admin’s browser, and another tenant’s admin', async () => {
    const t = await tenantWithOidc();
    const { page } = await adminPage(t);
    await page.goto(`${app.url}/t/${t.slug}/admin/settings`);
    // Same site (127.0.0.1, another port), so the Lax cookie IS sent: only the CSRF token and origin check stop it.
    site = await startStubSite({
      '/attack': `<!doctype html><html lang="en"><title>Win a prize</title><body><form id="f" method="post" action="${app.url}/t/${t.slug}/admin/actions/settings-update">
<input name="dynamicClientRegistration" value="off"><input name="csrf" value="guess"></form><script>document.getElementById('f').submit()</script></body></html>`,
    });
    const [res] = await Promise.all([page.waitForResponse(`${app.url}/t/${t.slug}/admin/actions/settings-update`), page.goto(`${site.origin}/attack`)]);
    expect(res.status()).toBe(403);
    expect((await findTenantBySlug(app.services.db, t.slug))!.settings.dynamicClientRegistration).toBe(true);

    // An admin of another tenant has no session here: the console sends them to this tenant's sign-in.
    const other = await tenantWithOidc();
    const { page: foreign } = await adminPage(other);
    await foreign.goto(`${app.url}/t/${t.slug}/admin`);
    expect(foreign.url()).toMatch(new RegExp(`^${idp.issuer}/`));
    await page.context().close();
    await foreign.context().close();
  }, 120_000);

  it('SSO wizard by keyboard only: test sign-in in a new window (a dry run), then the attribute mapping with its live preview; axe', async () => {
    const t = await tenantWithOidc();
    const { page } = await adminPage(t);
    await page.goto(`${app.url}/t/${t.slug}/admin/sso`);
    await tabTo(page, /^Test sign-in with Corp IdP/, 40);
    const [popup] = await Promise.all([page.context().waitForEvent('page'), page.keyboard.press('Enter')]);
    const messages = consoleOf(popup);
    await ssoLogin(popup, 'dora@corp.example');
    expect(popup.url()).toMatch(new RegExp(`/t/${t.slug}/admin/sso/test-result\\?connection=`));
    const main = await popup.locator('main').innerText();
    expect(main).toContain('Would create the user (JIT)');
    expect(main).toContain('dora@corp.example');
    expect(await t.db.user.count({ where: { email: 'dora@corp.example' } })).toBe(0);
    await expectAccessiblePage(popup, { title: /^Test sign-in: Corp IdP · Acme Corp admin$/, tenant: 'Acme Corp' });
    await expectNoSeriousAxeViolations(popup);
    await expectReflowAt320(popup);

    // Keyboard only: names for "Display name"; the preview follows as one types (computed by the server).
    await tabTo(popup, /^#map-displayName$/, 60);
    await popup.keyboard.type('email');
    await popup.locator('#preview-displayName').filter({ hasText: 'dora@corp.example' }).waitFor();
    await screenshot(popup, 'admin-sso-test');
    await tabTo(popup, /^Save mapping$/, 5);
    await Promise.all([popup.waitForEvent('load'), popup.keyboard.press('Enter')]);
    await popup.getByRole('status').filter({ hasText: 'Connection updated' }).waitFor();
    const row = await t.db.idpConnection.findFirst({ select: { config: true } });
    expect((row!.config as { mapping: unknown }).mapping).toEqual({ displayName: ['email'] });
    expect(messages.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('SSO wizard by keyboard only: copy values, add an OIDC provider, see it listed', async () => {
    const t = await app.createTenant(undefined, 'Acme Corp');
    const { page } = await adminPage(t);
    await page.goto(`${app.url}/t/${t.slug}/admin/sso`);
    expect(await page.locator('main').innerText()).toContain(`${app.url}/t/${t.slug}/saml/acs`);
    await tabTo(page, /^#oidc-issuer$/, 120);
    await page.keyboard.type(idp.issuer);
    await page.keyboard.press('Tab');
    await page.keyboard.type(idp.clientId);
    await page.keyboard.press('Tab');
    await page.keyboard.type(idp.clientSecret);
    await tabTo(page, /^#oidc-name$/, 5);
    await page.keyboard.type('Corp IdP');
    await tabTo(page, /^Add OIDC provider$/, 20);
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    await page.getByRole('status').filter({ hasText: 'OIDC identity provider added' }).waitFor();
    expect(await page.getByRole('table', { name: 'Connections' }).innerText()).toContain('Corp IdP');
    await expectNoSeriousAxeViolations(page);
    await screenshot(page, 'admin-sso-added');
    await page.context().close();
  }, 120_000);
});
