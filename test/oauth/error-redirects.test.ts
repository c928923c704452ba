import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient } from '../../src/oauth/manage-clients.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorize, Browser, createUser, mcpUrl, pkce, registerClient, signedInBrowser } from './support/oauth-client.js';
import { createTestCa, startCimdServer, type CimdServer } from './support/test-ca.js';

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
    'max_age not a number': { ...ok, max_age: 'abc' },
    'S512 code_challenge_method': { ...ok, code_challenge_method: 'S512' },
    'response_type none': { ...ok, response_type: 'none' },
    'response_type code id_token': { ...ok, response_type: 'code id_token' },
    'empty response_type': { ...ok, response_type: '' },
    'response_mode jwt': { ...ok, response_mode: 'jwt', prompt: 'none' },
    'response_mode web_message': { ...ok, response_mode: 'web_message', prompt: 'none' },
    'unknown response_mode': { ...ok, response_mode: 'bogus' },
    'request_uri (PAR is off)': { ...ok, request_uri: 'urn:ietf:params:oauth:request_uri:x' },
    'registration parameter': { ...ok, registration: '{}' },
    'garbage id_token_hint': { ...ok, id_token_hint: 'garbage' },
    'unknown prompt': { ...ok, prompt: 'bogus' },
    'prompt none with login': { ...ok, prompt: 'none login' },
    'prompt=none with login_hint': { ...ok, prompt: 'none', login_hint: 'ceo@corp.example' },
    'prompt=none, openid scope and nonce': { ...ok, prompt: 'none', scope: 'openid', nonce: 'n' },
  } as Record<string, Record<string, string>>;
}

/** Variants whose query a URLSearchParams object cannot express: repeated parameters, the redirect_uri left out. */
function rawVariants(app: TestApp, t: TenantCtx, clientId: string): Record<string, string> {
  const { challenge } = pkce();
  const ok = { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, state: 'st', code_challenge: challenge, code_challenge_method: 'S256', resource: mcpUrl(app, t) };
  const { redirect_uri: _r, ...implicitRedirect } = ok;
  return {
    'state given twice': `${new URLSearchParams(ok)}&state=again`,
    'two resources, one foreign': `${new URLSearchParams(ok)}&resource=${encodeURIComponent('https://elsewhere.example/mcp')}`,
    // One registered redirect URI: oidc-provider would fill it in and redirect there.
    'no redirect_uri, prompt=none': `${new URLSearchParams({ ...implicitRedirect, prompt: 'none' })}`,
    'no redirect_uri, no PKCE': `${new URLSearchParams({ ...implicitRedirect, code_challenge: '' })}`,
  };
}

/** Every variant, as a browser that is not signed in sends it: the list of [variant, status, Location, body]. */
async function sendAll(app: TestApp, t: TenantCtx, clientId: string, browser: () => Promise<Browser> = async () => new Browser()) {
  const queries = [
    ...Object.entries(errorVariants(app, t, clientId)).map(([name, params]) => [name, new URLSearchParams(params).toString()] as const),
    ...Object.entries(rawVariants(app, t, clientId)),
  ];
  const out: { name: string; status: number; location: string | null; body: string }[] = [];
  for (const [name, query] of queries) {
    const res = await (await browser()).fetch(`${app.url}/t/${t.slug}/oauth/authorize?${query}`);
    out.push({ name, status: res.status, location: res.headers.get('location'), body: await res.text() });
  }
  return out;
}

describe.each(testDbKinds)('authorization errors never make us an open redirector (%s)', (kind) => {
  let app: TestApp;
  let cimd: CimdServer;
  beforeAll(async () => {
    const ca = createTestCa();
    cimd = await startCimdServer(ca);
    app = await startTestApp(kind, { DANGEROUSLY_ALLOW_CIMD_HOSTS: cimd.host, DANGEROUSLY_CIMD_CA_FILE: ca.caFile });
  });
  afterAll(async () => {
    await app?.close();
    await cimd?.close();
  });

  it('a dynamically registered client gets an error page on our origin naming it and its redirect host, for every variant', async () => {
    const t = await app.createTenant();
    const client = await registerClient(app, t, { client_name: 'Totally <b>Legit</b> App', redirect_uris: [REDIRECT] });
    const answers = await sendAll(app, t, client.client_id);
    expect(answers.length).toBeGreaterThan(25);
    for (const { name, status, location, body } of answers) {
      expect([name, status, location]).toEqual([name, 400, null]);
      expect(body).toContain('Totally &lt;b&gt;Legit&lt;/b&gt; App');
      expect(body).toContain('<strong>attacker-controlled.example</strong>');
      expect(body).toContain('role="alert"');
      // No automatic way there: no link, no form, no refresh to the redirect URI.
      expect([name, body.includes(REDIRECT), /http-equiv|<form|<a [^>]*attacker/i.test(body)]).toEqual([name, false, false]);
    }
  });

  it('a client metadata document client gets the same page for every variant; so does a signed-in browser', async () => {
    const clientId = `${cimd.origin}/apps/errors-all.json`;
    cimd.route('/apps/errors-all.json', { body: { client_id: clientId, client_name: 'Doc App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' } });
    const t = await app.createTenant();
    const user = await createUser(t);
    for (const browser of [async () => new Browser(), () => signedInBrowser(app, t, user.id)]) {
      for (const { name, status, location, body } of await sendAll(app, t, clientId, browser)) {
        expect([name, status, location]).toEqual([name, 400, null]);
        expect([name, body.includes('<strong>Doc App</strong>'), body.includes('<strong>attacker-controlled.example</strong>')]).toEqual([name, true, true]);
      }
    }
  });

  it('a client pre-registered by an administrator keeps RFC 6749 §4.1.2.1: the error goes to its redirect URI', async () => {
    const t = await app.createTenant();
    const client = await addClient(app.services, t, { name: 'Admin app', redirectUris: [REDIRECT] });
    const variants = errorVariants(app, t, client.client_id);
    for (const name of ['no PKCE', 'foreign resource', 'prompt=none without a session', 'fragment mode', 'unknown prompt', 'response_type none']) {
      const res = await new Browser().fetch(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams(variants[name])}`);
      expect([name, res.status]).toEqual([name, 303]);
      const location = res.headers.get('location')!;
      expect(location.startsWith(REDIRECT)).toBe(true);
      expect(location).toMatch(/error=/);
    }
    const raw = rawVariants(app, t, client.client_id);
    for (const name of ['state given twice', 'no redirect_uri, prompt=none']) {
      const res = await new Browser().fetch(`${app.url}/t/${t.slug}/oauth/authorize?${raw[name]}`);
      expect([name, res.status, res.headers.get('location')?.startsWith(REDIRECT)]).toEqual([name, 303, true]);
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
