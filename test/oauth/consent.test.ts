import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { oauthCommands } from '../../src/oauth/oauth-commands.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { authorize, createUser, mcpUrl, pkce, registerClient, signedInBrowser, type Browser } from './support/oauth-client.js';

describe.each(testDbKinds)('consent to the tenant tool profile (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const approveTool = (t: TenantCtx, name: string) =>
    t.db.tool.create({ data: { id: newId('tool'), tenantId: t.id, name, kind: 'upstream', description: `${name} does things`, approved: true, everyone: true } });

  async function run(t: TenantCtx, b: Browser, clientId: string, redirectUri: string) {
    const { challenge } = pkce();
    return authorize(app, b, {
      client_id: clientId, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: mcpUrl(app, t),
    }, t);
  }
  const consentPage = (r: Awaited<ReturnType<typeof run>>) => r.pages.find((p) => p.body.includes('name="csrf"'));

  it('lists every callable tool, remembers the consent, and lets newly approved tools join silently', async () => {
    const t = await app.createTenant();
    await approveTool(t, 'crm__lookup');
    const user = await createUser(t);
    const client = await registerClient(app, t, { client_name: 'Remembered <App>' });
    const b = await signedInBrowser(app, t, user.id);
    const first = await run(t, b, client.client_id, client.redirect_uris[0]!);
    const page = consentPage(first)!;
    expect(page.body).toContain('crm__lookup');
    expect(page.body).toContain('whoami');
    expect(page.body).toContain('Remembered &lt;App&gt;');
    expect(page.body).not.toContain('<App>');
    expect(page.body).toContain('registered itself');
    expect(page.body).toContain(`<a href="/t/${t.slug}/apps">connected apps</a>`);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    // Server-rendered, no scripts, keyboard first: one form whose first submit control approves and has focus.
    expect(page.body).toContain('<html lang="en">');
    expect(page.body).not.toContain('<script');
    expect((page.body.match(/<form /g) ?? []).length).toBe(1);
    expect(/<button[^>]*type="submit"[^>]*>/.exec(page.body)![0]).toMatch(/value="approve".*autofocus/);
    expect(first.redirect?.searchParams.get('code')).toBeTruthy();

    await approveTool(t, 'crm__update');
    const second = await run(t, b, client.client_id, client.redirect_uris[0]!);
    expect(consentPage(second)).toBeUndefined();
    expect(second.redirect?.searchParams.get('code')).toBeTruthy();
  });

  it('asks again for new tools when the tenant requires re-consent', async () => {
    const t = await app.createTenant();
    await app.services.db.tenant.update({ where: { id: t.id }, data: { settings: { reconsentOnNewTools: true } } });
    const user = await createUser(t);
    const client = await registerClient(app, t);
    const b = await signedInBrowser(app, t, user.id);
    expect(consentPage(await run(t, b, client.client_id, client.redirect_uris[0]!))).toBeDefined();
    expect(consentPage(await run(t, b, client.client_id, client.redirect_uris[0]!))).toBeUndefined();
    await approveTool(t, 'wiki__search');
    const again = await run(t, b, client.client_id, client.redirect_uris[0]!);
    expect(consentPage(again)?.body).toContain('wiki__search');
  });

  it('asks each client separately: consent to one app never covers another', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const b = await signedInBrowser(app, t, user.id);
    const a = await registerClient(app, t, { client_name: 'App A' });
    const c = await registerClient(app, t, { client_name: 'App C', redirect_uris: ['https://app-c.example/cb'] });
    await run(t, b, a.client_id, a.redirect_uris[0]!);
    const other = await run(t, b, c.client_id, c.redirect_uris[0]!);
    const page = consentPage(other)!;
    expect(page.body).toContain('App C');
    expect(page.body).toContain('app-c.example');
    expect(page.body).not.toContain('runs on your own computer');
  });

  it('ends the request with login_required when the SSO session changed user mid-flow', async () => {
    const t = await app.createTenant();
    const alice = await createUser(t, 'alice@example.com');
    const bob = await createUser(t, 'bob@example.com');
    const client = await registerClient(app, t);
    const b = await signedInBrowser(app, t, alice.id);
    const { challenge } = pkce();
    let url = `${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams({
      client_id: client.client_id, response_type: 'code', redirect_uri: client.redirect_uris[0]!, code_challenge: challenge,
      code_challenge_method: 'S256', resource: mcpUrl(app, t), state: 'sw',
    })}`;
    let res = await b.fetch(url);
    while (res.status === 303) res = await b.fetch((url = new URL(res.headers.get('location')!, url).href));
    const html = await res.text();
    expect(html).toContain('alice@example.com');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const { token } = await app.services.sessions.create(t, { userId: bob.id });
    b.jar.set(sessionCookieName(app.url, t), token);
    // Alice's form, submitted in Bob's session, is refused.
    const post = await b.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, decision: 'approve' }).toString() });
    expect(post.status).toBe(403);
    res = await b.fetch(url);
    while (res.status === 303 && new URL(res.headers.get('location')!, url).origin === app.url) res = await b.fetch((url = new URL(res.headers.get('location')!, url).href));
    // A self-registered client is not sent the error (issue 8 §1): a page on our origin says what happened.
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('(<code>login_required</code>)');
    expect(await t.db.consent.count()).toBe(0);
  });

  it('tells the user when an administrator registered the app', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const add = oauthCommands.find((c) => c.name === 'client add')!;
    const created = (await add.run(app.services, { tenant: t.slug, name: 'VS Code', 'redirect-uri': ['http://127.0.0.1:33418/'] })) as { client_id: string };
    const b = await signedInBrowser(app, t, user.id);
    const result = await run(t, b, created.client_id, 'http://127.0.0.1:40000/');
    const page = consentPage(result)!;
    expect(page.body).toContain('Registered by your administrators');
    expect(page.body).not.toContain('registered itself');
    expect(result.redirect?.searchParams.get('code')).toBeTruthy();
  });
});
