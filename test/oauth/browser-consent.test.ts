import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { waitForFocus } from '../browser/support/pages.js';
import { chromiumAvailable, launchChromium } from '../support/browser.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, mcpUrl, pkce, registerClient } from './support/oauth-client.js';

/**
 * The consent page in a real browser: CSP (including form-action on the redirect after the POST) and keyboard use.
 * Needs a Chromium binary (CHROMIUM_PATH, default /usr/bin/chromium); skipped where there is none.
 */
describe.skipIf(!chromiumAvailable).each(testDbKinds)('consent in a real browser (%s)', (kind) => {
  let app: TestApp;
  let browser: Browser;
  let callback: http.Server;
  let callbackUrl = '';
  const received: URL[] = [];
  beforeAll(async () => {
    app = await startTestApp(kind);
    browser = await launchChromium();
    callback = http.createServer((req, res) => {
      received.push(new URL(req.url!, callbackUrl));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
  });
  afterAll(async () => {
    await browser?.close();
    callback?.close();
    await app?.close();
  });

  it('approves with the keyboard alone and delivers the code to the loopback redirect', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t, { client_name: 'Keyboard App', redirect_uris: [callbackUrl] });
    const { token } = await app.services.sessions.create(t, { userId: user.id });
    const context = await browser.newContext();
    await context.addCookies([{ name: sessionCookieName(app.url, t), value: token, url: app.url }]);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
    const { challenge } = pkce();
    await page.goto(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams({
      client_id: client.client_id, response_type: 'code', redirect_uri: callbackUrl, code_challenge: challenge,
      code_challenge_method: 'S256', state: 'kb', resource: mcpUrl(app, t),
    })}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Keyboard App');
    // Autofocus is applied by the next rendering update (HTML "update the rendering": flush autofocus candidates),
    // which may come after `load`, when goto returns: wait for the focus instead of reading it once.
    await waitForFocus(page, 'Allow');
    await Promise.all([page.waitForURL(/\/callback\?/), page.keyboard.press('Enter')]);
    const last = received.filter((u) => u.pathname === '/callback').at(-1)!;
    expect(last.searchParams.get('state')).toBe('kb');
    expect(last.searchParams.get('code')).toBeTruthy();
    expect(violations).toEqual([]);
    await context.close();
  });

  it('runs the device flow: the code link auto-submits, the user confirms and consents', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t, {
      client_name: 'Terminal', redirect_uris: [], response_types: [], grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    });
    const start = await fetch(`${app.url}/t/${t.slug}/oauth/device_authorization`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: client.client_id }).toString(),
    });
    const device = (await start.json()) as Record<string, string>;
    const { token } = await app.services.sessions.create(t, { userId: user.id });
    const context = await browser.newContext();
    await context.addCookies([{ name: sessionCookieName(app.url, t), value: token, url: app.url }]);
    const page = await context.newPage();
    await page.goto(device.verification_uri_complete!);
    await page.getByText(device.user_code!).waitFor();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('Device connected').waitFor();
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code!, client_id: client.client_id }).toString(),
    });
    expect(res.status).toBe(200);
    await context.close();
  });
});
