import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, mcpUrl, registerClient, signedInBrowser, tokenRequest, type Browser } from './support/oauth-client.js';

/** Submits the first form of a page with its hidden fields (plus `extra`). */
async function submitForm(b: Browser, pageUrl: string, html: string, extra: Record<string, string> = {}) {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html)!;
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields[m[1]!] = m[2]!;
  return b.fetch(new URL(form[1]!.replace(/&amp;|&#38;/g, '&'), pageUrl).href, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, ...extra }).toString(),
  });
}

describe.each(testDbKinds)('device authorization grant (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('lets a CLI obtain a token after the user confirms the code, signs in and consents', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t, {
      client_name: 'Terminal client', redirect_uris: [], response_types: [], grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    });
    const start = await fetch(`${app.url}/t/${t.slug}/oauth/device_authorization`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: client.client_id }).toString(),
    });
    expect(start.status).toBe(200);
    const device = (await start.json()) as Record<string, string>;
    expect(device.verification_uri).toBe(`${app.url}/t/${t.slug}/oauth/device`);
    const poll = () => tokenRequest(app, t, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code!, client_id: client.client_id });
    expect((await poll()).body.error).toBe('authorization_pending');

    const b = await signedInBrowser(app, t, user.id);
    let url = device.verification_uri_complete!;
    let res = await b.fetch(url);
    expect(res.headers.get('content-security-policy')).toContain("'sha256-");
    // The link with the code auto-submits a form (its inline script is allowed by a CSP hash oidc-provider adds).
    res = await submitForm(b, url, await res.text());
    let html = await res.text();
    expect(html).toContain('Terminal client');
    expect(html).toContain(device.user_code);
    res = await submitForm(b, url, html);
    for (let hop = 0; hop < 10 && res.status === 303; hop++) {
      url = new URL(res.headers.get('location')!, url).href;
      res = await b.fetch(url);
    }
    html = await res.text();
    expect(html).toContain('name="csrf"');
    res = await submitForm(b, url, html, { decision: 'approve' });
    for (let hop = 0; hop < 10 && res.status === 303; hop++) {
      url = new URL(res.headers.get('location')!, url).href;
      res = await b.fetch(url);
    }
    expect(await res.text()).toContain('Device connected');

    const tokens = await poll();
    expect(tokens.status).toBe(200);
    const info = await app.services.accessTokens.verify(t, tokens.body.access_token!, mcpUrl(app, t));
    expect(info).toMatchObject({ userId: user.id, clientId: client.client_id });
    expect(info!.scopes).toContain('mcp:tools');
    expect((await poll()).body.error).toBe('invalid_grant');
  });

  it('refuses a wrong user code', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const b = await signedInBrowser(app, t, user.id);
    const url = `${app.url}/t/${t.slug}/oauth/device`;
    const page = await (await b.fetch(url)).text();
    const res = await submitForm(b, url, page, { user_code: 'BCDF-GHJK' });
    expect(await res.text()).toContain('not valid');
  });
});
