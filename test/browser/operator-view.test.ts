import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import { consoleOf, describeInBrowser, launchChromium, screenshot } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { expectNoSeriousAxeViolations } from './support/axe.js';
import { expectAccessiblePage, expectReflowAt320, tabTo } from './support/pages.js';

/** The operator view (issue 15, decision 0033) in headless Chromium: token sign-in by keyboard, the main path, axe. */
describeInBrowser('operator view in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    [app, browser] = await Promise.all([startTestApp('pglite', { SIGNUP_POLICY: 'approval' }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('signs in with a token, lists tenants, creates a setup link, approves a sign-up, disables a tenant, signs out', async () => {
    const t = await app.createTenant(undefined, 'Acme Corp');
    const p = await app.createTenant(undefined, 'Pending Ltd');
    await app.services.db.tenant.update({ where: { id: p.id }, data: { status: 'disabled', settings: { signup: { status: 'pending', source: 'entra', contact: 'it@pending.example' } } } });
    const { token } = (await commands.find((c) => c.name === 'operator token create')!.run(app.services, { name: 'alice' })) as { token: string };

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const messages = consoleOf(page);
    page.on('dialog', (d) => void d.accept());
    const res = await page.goto(`${app.url}/operator`);
    expect(res?.status()).toBe(200);
    await expectAccessiblePage(page, { title: /^Operator sign-in · SSO Bridge operator$/ });
    await expectNoSeriousAxeViolations(page);
    // Keyboard only: Tab to the token field, type, Enter.
    await tabTo(page, /#op-token/);
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Tenants' }).waitFor();
    await expectAccessiblePage(page, { title: /^Tenants · SSO Bridge operator$/ });
    const body = await page.locator('main').innerText();
    expect(body).toContain('Acme Corp');
    expect(body).toContain('it@pending.example');
    expect(await page.locator('header').innerText()).toContain('alice');
    await expectNoSeriousAxeViolations(page);
    await expectReflowAt320(page);
    await screenshot(page, 'operator-tenants');

    await page.getByRole('button', { name: `Create setup link ${t.slug}` }).click();
    await page.locator('#setup-link').waitFor();
    const link = await page.locator('#setup-link').innerText();
    expect(link).toMatch(new RegExp(`^${app.url}/setup/sl_`));
    // The script reveals the copy button (CSP nonce allowed it).
    await expect.poll(() => page.getByRole('button', { name: 'Copy setup link' }).isVisible()).toBe(true);
    await expectNoSeriousAxeViolations(page);

    await page.getByRole('button', { name: `Approve ${p.slug}` }).click();
    await page.getByText('Sign-up approved.').waitFor();
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: p.id } })).status).toBe('active');

    await Promise.all([page.waitForURL(/done=tenant-disable/), page.getByRole('button', { name: `Disable ${t.slug}` }).click()]);
    await page.getByText('Tenant disabled.').waitFor();
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: t.id } })).status).toBe('disabled');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Operator sign-in' }).waitFor();
    expect(messages.filter((m) => /Content Security Policy|Refused/.test(m))).toEqual([]);
  }, 120_000);
});
