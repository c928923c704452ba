import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { addClient } from '../../src/oauth/manage-clients.js';
import { authorize, Browser, createUser, mcpUrl, pkce, registerClient, signedInBrowser, tokenRequest } from './support/oauth-client.js';

describe.each(testDbKinds)('authorization endpoint and token endpoint refuse hostile input (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  async function setup() {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t);
    const b = await signedInBrowser(app, t, user.id);
    const base = { client_id: client.client_id, response_type: 'code', redirect_uri: client.redirect_uris[0]!, state: 's1', resource: mcpUrl(app, t) };
    return { t, user, client, b, base };
  }

  it('refuses a request without PKCE, and one with the plain method (an admin-registered client gets the error and iss)', async () => {
    const { t, b, base: dcr } = await setup();
    const admin = await addClient(app.services, t, { name: 'Admin app', redirectUris: [dcr.redirect_uri] });
    const base = { ...dcr, client_id: admin.client_id };
    const missing = await authorize(app, b, base, t);
    expect(missing.redirect?.searchParams.get('error')).toBe('invalid_request');
    expect(missing.redirect?.searchParams.get('iss')).toBe(`${app.url}/t/${t.slug}`);
    const { verifier } = pkce();
    const plain = await authorize(app, b, { ...base, code_challenge: verifier, code_challenge_method: 'plain' }, t);
    expect(plain.redirect?.searchParams.get('error')).toBe('invalid_request');
    expect(plain.redirect?.searchParams.has('code')).toBe(false);
    // A self-registered client gets a page instead (test/oauth/error-redirects.test.ts).
    const self = await authorize(app, b, dcr, t);
    expect(self.redirect).toBeNull();
    expect(self.pages[0]!.status).toBe(400);
  });

  it('never redirects to an unregistered redirect URI: an error page instead', async () => {
    const { t, b, base } = await setup();
    const { challenge } = pkce();
    for (const redirect_uri of ['https://evil.example/callback', 'http://127.0.0.1:4567/other', 'http://127.0.0.1:4567/callback/../x']) {
      const res = await authorize(app, b, { ...base, redirect_uri, code_challenge: challenge, code_challenge_method: 'S256' }, t);
      expect(res.redirect).toBeNull();
      expect(res.pages[0]!.status).toBe(400);
      expect(res.pages[0]!.body).toContain('redirect_uri');
    }
  });

  it('lets a loopback redirect URI change only its port (RFC 8252 §7.3)', async () => {
    const { t, b, base } = await setup();
    const { challenge } = pkce();
    const res = await authorize(app, b, { ...base, redirect_uri: 'http://127.0.0.1:50123/callback', code_challenge: challenge, code_challenge_method: 'S256' }, t);
    expect(res.redirect?.host).toBe('127.0.0.1:50123');
    expect(res.redirect?.searchParams.get('code')).toBeTruthy();
  });

  it('lets the loopback redirect URI of a client that also has an https one change its port, and nothing else (RFC 8252 §7.3)', async () => {
    const { t, b, base } = await setup();
    const { challenge } = pkce();
    // As VS Code registers: a loopback URI (its fixed port may be taken) and a claimed https one; by the CLI and by DCR.
    const redirectUris = ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect'];
    const admin = await addClient(app.services, t, { name: 'VS Code', redirectUris });
    const dcr = await registerClient(app, t, { redirect_uris: redirectUris });
    for (const client_id of [admin.client_id, dcr.client_id]) {
      const ok = await authorize(app, b, { ...base, client_id, redirect_uri: 'http://127.0.0.1:50124/', code_challenge: challenge, code_challenge_method: 'S256' }, t);
      expect(ok.redirect?.host, client_id).toBe('127.0.0.1:50124');
      expect(ok.redirect?.searchParams.get('code')).toBeTruthy();
      for (const redirect_uri of ['http://127.0.0.1:50124/other', 'https://vscode.dev:8443/redirect', 'http://localhost:50124/']) {
        const refused = await authorize(app, b, { ...base, client_id, redirect_uri, code_challenge: challenge, code_challenge_method: 'S256' }, t);
        expect(refused.redirect, redirect_uri).toBeNull();
        expect(refused.pages[0]!.status).toBe(400);
      }
    }
  });

  it('answers an unknown resource with invalid_target (RFC 8707)', async () => {
    const { t, b, base: dcr } = await setup();
    const admin = await addClient(app.services, t, { name: 'Admin app', redirectUris: [dcr.redirect_uri] });
    const base = { ...dcr, client_id: admin.client_id };
    const other = await app.createTenant();
    const { challenge } = pkce();
    for (const resource of ['https://elsewhere.example/mcp', mcpUrl(app, other), `${app.url}/t/${t.slug}/scim/v2`]) {
      const res = await authorize(app, b, { ...base, resource, code_challenge: challenge, code_challenge_method: 'S256' }, t);
      expect(res.redirect?.searchParams.get('error')).toBe('invalid_target');
    }
  });

  it('refuses a replayed authorization code and revokes what the first redemption issued', async () => {
    const { t, b, base, client } = await setup();
    const { verifier, challenge } = pkce();
    const { redirect } = await authorize(app, b, { ...base, code_challenge: challenge, code_challenge_method: 'S256' }, t);
    const code = redirect!.searchParams.get('code')!;
    const form = { grant_type: 'authorization_code', code, redirect_uri: base.redirect_uri, client_id: client.client_id, code_verifier: verifier };
    const first = await tokenRequest(app, t, form);
    expect(first.status).toBe(200);
    const replay = await tokenRequest(app, t, form);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(await app.services.accessTokens.verify(t, first.body.access_token!, mcpUrl(app, t))).toBeNull();
    const refresh = await tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token!, client_id: client.client_id });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('refuses a wrong code_verifier with invalid_grant', async () => {
    const { t, b, base, client } = await setup();
    const { challenge } = pkce();
    const { redirect } = await authorize(app, b, { ...base, code_challenge: challenge, code_challenge_method: 'S256' }, t);
    const res = await tokenRequest(app, t, {
      grant_type: 'authorization_code', code: redirect!.searchParams.get('code')!, redirect_uri: base.redirect_uri,
      client_id: client.client_id, code_verifier: pkce().verifier,
    });
    expect(res.body.error).toBe('invalid_grant');
  });

  it('sends a browser without an SSO session to the tenant login, returning to the interaction', async () => {
    const { t, base } = await setup();
    const { challenge } = pkce();
    const anonymous = new Browser();
    let res = await anonymous.fetch(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams({ ...base, code_challenge: challenge, code_challenge_method: 'S256' })}`);
    res = await anonymous.fetch(new URL(res.headers.get('location')!, app.url).href);
    expect(res.status).toBe(303);
    const login = new URL(res.headers.get('location')!, app.url);
    expect(login.pathname).toBe(`/t/${t.slug}/login`);
    expect(login.searchParams.get('return_to')).toMatch(new RegExp(`^/t/${t.slug}/oauth/interaction/`));
  });

  it('returns access_denied when the user denies, and refuses a consent POST with a wrong CSRF token', async () => {
    const { t, b, base } = await setup();
    const { challenge } = pkce();
    const denied = await authorize(app, b, { ...base, code_challenge: challenge, code_challenge_method: 'S256' }, t, 'deny');
    expect(denied.redirect?.searchParams.get('error')).toBe('access_denied');
    expect(denied.redirect?.searchParams.get('state')).toBe('s1');

    let res = await b.fetch(`${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams({ ...base, code_challenge: challenge, code_challenge_method: 'S256' })}`);
    while (res.status === 303) res = await b.fetch(new URL(res.headers.get('location')!, app.url).href);
    const action = /<form method="post" action="([^"]+)"/.exec(await res.text())![1]!;
    const forged = await b.fetch(new URL(action, app.url).href, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged&decision=approve',
    });
    expect(forged.status).toBe(403);
  });

  it('refuses to register redirect URIs that are neither https nor loopback', async () => {
    const t = await app.createTenant();
    for (const uri of ['https://app.example/cb', 'http://[::1]:8080/cb', 'com.example.app:/oauth']) {
      const ok = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: 'none', application_type: uri.startsWith('com.') ? 'native' : undefined }),
      });
      expect(ok.status, uri).toBe(201);
    }
    for (const uri of ['http://evil.example/cb', 'javascript:alert(1)']) {
      const res = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/invalid_redirect_uri|invalid_client_metadata/);
    }
    for (const claim of [{ x_sb_admin_registered: true }, { x_sb_purpose: 'scim' }]) {
      const res = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none', ...claim }),
      });
      expect(res.status).toBe(400);
    }
    const cc = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'], grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    expect(cc.status).toBe(400);
  });

  it('refuses client metadata with a lone UTF-16 surrogate (invalid_client_metadata, not a 500); an escaped pair is a name', async () => {
    const t = await app.createTenant();
    const register = (body: string) => fetch(`${app.url}/t/${t.slug}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    for (const name of ['"x\\ud800"', '"\\udfff"']) {
      const res = await register(`{"client_name":${name},"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`);
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
    const ok = await register('{"client_name":"App \\ud83d\\ude00","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}');
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { client_name: string }).client_name).toBe('App 😀');
  });

  it("keeps tenants apart: another tenant's client, code or browser session is worth nothing here", async () => {
    const a = await setup();
    const b = await app.createTenant();
    const { verifier, challenge } = pkce();
    // Tenant A's client id at tenant B's authorization endpoint: unknown client, an error page, no redirect.
    const foreign = await authorize(app, a.b, { ...a.base, resource: mcpUrl(app, b), code_challenge: challenge, code_challenge_method: 'S256' }, b);
    expect(foreign.redirect).toBeNull();
    expect(foreign.pages[0]!.status).toBe(400);
    // Tenant A's code at tenant B's token endpoint.
    const { redirect } = await authorize(app, a.b, { ...a.base, code_challenge: challenge, code_challenge_method: 'S256' }, a.t);
    const code = redirect!.searchParams.get('code')!;
    const atB = await tokenRequest(app, b, { grant_type: 'authorization_code', code, redirect_uri: a.base.redirect_uri, client_id: a.client.client_id, code_verifier: verifier });
    expect(atB.status).toBe(401);
    expect(atB.body.error).toBe('invalid_client');
    // Tenant A's SSO session does not sign the user in at tenant B (the cookie is per tenant).
    const clientB = await registerClient(app, b);
    const res = await authorize(app, a.b, {
      client_id: clientB.client_id, response_type: 'code', redirect_uri: clientB.redirect_uris[0]!, resource: mcpUrl(app, b),
      code_challenge: challenge, code_challenge_method: 'S256',
    }, b);
    expect(res.redirect).toBeNull();
    expect(res.pages.at(-1)!.url).toContain(`/t/${b.slug}/login`);
  });
});
