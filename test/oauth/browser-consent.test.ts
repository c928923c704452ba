import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, mcpUrl, pkce, registerClient } from './support/oauth-client.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The consent page in a real browser: CSP (including form-action on the redirect after the POST) and keyboard use.
 * Needs a Chromium binary (CHROMIUM_PATH, default /usr/bin/chromium); skipped where there is none.
 */
describe.skipIf(!existsSync(executablePath))('consent in a real browser', () => {
  let app: TestApp;
  let browser: Browser;
  let callback: http.Server;
  let callbackUrl = '';
  const received: URL[] = [];
  beforeAll(async () => {
    app = await startTestApp('pglite');
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
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
    expect(await page.evaluate(() => (document.activeElement as HTMLButtonElement | null)?.textContent)).toBe('Allow');
    await Promise.all([page.waitForURL(/\/callback\?/), page.keyboard.press('Enter')]);
    const last = received.filter((u) => u.pathname === '/callback').at(-1)!;
    expect(last.searchParams.get('state')).toBe('kb');
    expect(last.searchParams.get('code')).toBeTruthy();
    expect(violations).toEqual([]);
    await context.close();
  });
});
