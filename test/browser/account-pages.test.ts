import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerClient, tokenRequest } from '../oauth/support/oauth-client.js';
import { describeInBrowser, launchChromium, startStubSite, type StubSite } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorizeUrl, signedInPage } from './support/oauth-browser.js';
import { expectAccessiblePage, tabTo, waitForFocus } from './support/pages.js';

/** The user's own OAuth pages in headless Chromium: connected apps (disconnect) and the device flow, keyboard only. */
describeInBrowser('connected apps and device pages in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let client: StubSite;
  beforeAll(async () => {
    [app, browser, client] = await Promise.all([startTestApp('pglite'), launchChromium(), startStubSite()]);
  });
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await app?.close();
  });

  it('connected apps lists the approved app; its Disconnect button (named after the app) ends the tokens', async () => {
    const t = await app.createTenant();
    const redirectUri = `${client.origin}/callback`;
    const [one, two] = await Promise.all(['Notes App', 'Mail App'].map((name) => registerClient(app, t, { client_name: name, redirect_uris: [redirectUri] })));
    const page = await signedInPage(app, browser, t);
    let refreshToken = '';
    for (const c of [one!, two!]) {
      const { url, verifier } = authorizeUrl(app, t, c.client_id, redirectUri, 's');
      await page.goto(url);
      await waitForFocus(page, 'Allow');
      await Promise.all([page.waitForURL(`${redirectUri}?**`), page.keyboard.press('Enter')]);
      if (c === one) refreshToken = (await tokenRequest(app, t, { grant_type: 'authorization_code', code: new URL(page.url()).searchParams.get('code')!, redirect_uri: redirectUri, client_id: c.client_id, code_verifier: verifier })).body.refresh_token!;
    }
    const res = await page.goto(`${app.url}/t/${t.slug}/apps`);
    expect(res?.headers()['x-frame-options']).toBe('DENY');
    await expectAccessiblePage(page, { title: /^Connected apps · /, tenant: t.name });
    const items = await page.getByRole('listitem').allInnerTexts();
    expect(items).toHaveLength(2);
    expect(items).toEqual(expect.arrayContaining([expect.stringContaining('Mail App'), expect.stringContaining('Notes App')]));
    expect(await page.getByRole('button', { name: 'Disconnect Notes App' }).count()).toBe(1);

    await tabTo(page, /^Disconnect Notes App$/);
    // The POST redirects back to this page: wait for the new document's load, not just for the old list to go.
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    expect(await page.getByRole('listitem').allInnerTexts()).toEqual([expect.stringContaining('Mail App')]);
    const refresh = await tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: one!.client_id });
    expect(refresh.status).toBe(400);
    await page.context().close();
  });

  it('device flow by keyboard: type the code, confirm, consent; a wrong code is announced', async () => {
    const t = await app.createTenant();
    const device = await registerClient(app, t, { client_name: 'Terminal', redirect_uris: [], response_types: [], grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] });
    const start = await fetch(`${app.url}/t/${t.slug}/oauth/device_authorization`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: device.client_id }),
    });
    const grant = (await start.json()) as Record<string, string>;
    const page = await signedInPage(app, browser, t);

    await page.goto(grant.verification_uri!);
    await expectAccessiblePage(page, { title: /^Connect a device · /, tenant: t.name });
    await page.getByLabel('Code').focus();
    await page.keyboard.type('BCDF-GHJK');
    const loaded = () => page.waitForEvent('load'); // the form posts back to the same URL: wait for the new document
    await Promise.all([loaded(), page.keyboard.press('Enter')]);
    expect(await page.getByRole('alert').innerText()).toMatch(/not valid or has expired/);

    await page.getByLabel('Code').fill('');
    await page.getByLabel('Code').focus();
    await page.keyboard.type(grant.user_code!);
    await Promise.all([loaded(), page.keyboard.press('Enter')]);
    await expectAccessiblePage(page, { title: /^Confirm the device · /, tenant: t.name });
    expect(await page.locator('main').innerText()).toContain(grant.user_code!);
    await waitForFocus(page, 'Continue');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Allow Terminal to use' }).waitFor();
    await waitForFocus(page, 'Allow');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    const tokens = await tokenRequest(app, t, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: grant.device_code!, client_id: device.client_id });
    expect(tokens.status).toBe(200);
    await page.context().close();
  });
});
