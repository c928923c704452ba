import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient } from '../../src/oauth/manage-clients.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorize, Browser, createUser, mcpUrl, pkce, registerClient, signedInBrowser } from './support/oauth-client.js';

const REDIRECT = 'https://attacker-controlled.example/landing';

/**
 * Authorization errors before sign-in and consent (issue 8 §1, RFC 9700 §4.11.2): each variant, sent by a browser
 * that is not signed in, through every response mode. A self-registered client's redirect URI is never reached.
 */
function errorVariants(app: TestApp, t: TenantCtx, clientId: string) {
  const { challenge } = pkce();
  const ok = { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, state: 'st', code_challenge: challenge, code_challenge_method: 'S256', resource: mcpUrl(app, t) };
  const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = ok;
  return {
    'no PKCE': noPkce,
    'plain PKCE': { ...ok, code_challenge_method: 'plain' },
    'foreign resource': { ...ok, resource: 'https://elsewhere.example/mcp' },
    'malformed code_challenge': { ...ok, code_challenge: 'short' },
    'prompt=none without a session': { ...ok, prompt: 'none' },
    'response_type token': { ...ok, response_type: 'token' },
    'request object': { ...ok, request: 'eyJhbGciOiJub25lIn0.e30.' },
    'form_post mode': { ...ok, response_mode: 'form_post', prompt: 'none' },
    'fragment mode': { ...ok, response_mode: 'fragment', prompt: 'none' },
    'bad max_age': { ...ok, max_age: '-1' },
  } as Record<string, Record<string, string>>;
}

describe.each(testDbKinds)('authorization errors never make us an open redirector (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('a dynamically registered client gets an error page on our origin naming it and its redirect host, for every variant', async () => {
    const t = await app.createTenant();
    const client = await registerClient(app, t, { client_name: 'Totally <b>Legit</b> App', redirect_uris: [REDIRECT] });
    for (const [name, params] of Object.entries(errorVariants(app, t, client.client_id))) {
      const res = await new Browser().fetch(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams(params)}`);
      const body = await res.text();
      expect([name, res.status, res.headers.get('location')]).toEqual([name, 400, null]);
      expect(body).toContain('Totally &lt;b&gt;Legit&lt;/b&gt; App');
      expect(body).toContain('<strong>attacker-controlled.example</strong>');
      expect(body).toContain('role="alert"');
      // No automatic way there: no link, no form, no refresh to the redirect URI.
      expect([name, body.includes(REDIRECT), /http-equiv|<form|<a [^>]*attacker/i.test(body)]).toEqual([name, false, false]);
    }
  });

  it('a client pre-registered by an administrator keeps RFC 6749 §4.1.2.1: the error goes to its redirect URI', async () => {
    const t = await app.createTenant();
    const client = await addClient(app.services, t, { name: 'Admin app', redirectUris: [REDIRECT] });
    const variants = errorVariants(app, t, client.client_id);
    for (const name of ['no PKCE', 'foreign resource', 'prompt=none without a session', 'fragment mode']) {
      const res = await new Browser().fetch(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams(variants[name])}`);
      expect([name, res.status]).toEqual([name, 303]);
      const location = res.headers.get('location')!;
      expect(location.startsWith(REDIRECT)).toBe(true);
      expect(location).toMatch(/error=/);
    }
  });

  it("the user's own Deny on the consent page still reaches a self-registered client; a signed-in error does not", async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t, { redirect_uris: [REDIRECT] });
    const { challenge } = pkce();
    const params = { client_id: client.client_id, response_type: 'code', redirect_uri: REDIRECT, state: 'sd', code_challenge: challenge, code_challenge_method: 'S256', resource: mcpUrl(app, t) };
    const denied = await authorize(app, await signedInBrowser(app, t, user.id), params, t, 'deny');
    expect(denied.redirect?.origin).toBe('https://attacker-controlled.example');
    expect(denied.redirect?.searchParams.get('error')).toBe('access_denied');
    expect(denied.redirect?.searchParams.get('state')).toBe('sd');
    // Signed in, but an invalid request: still a page (the user has not seen this client's consent page).
    const invalid = await authorize(app, await signedInBrowser(app, t, user.id), { ...params, resource: 'https://elsewhere.example/' }, t);
    expect(invalid.redirect).toBeNull();
    expect(invalid.pages[0]!.status).toBe(400);
    expect(invalid.pages[0]!.body).toContain('<strong>attacker-controlled.example</strong>');
  });
});
