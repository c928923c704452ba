import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import { startOidcIdp, type TestOidcIdp } from './support/oidc-idp.js';
import { cli, useAppWithOidcIdp } from './support/sso-fixtures.js';

describe.each(testDbKinds)('OIDC relying party (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    idp = i;
  });

  async function tenantWithOidc(extra: Record<string, unknown> = {}) {
    const t = await app.createTenant();
    const conn = await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': idp.clientSecret, name: 'Corp IdP', ...extra });
    return { t, conn };
  }

  it('signs in with the authorization code flow and answers /api/me', async () => {
    const { t, conn } = await tenantWithOidc();
    expect(conn).toMatchObject({ kind: 'oidc', issuer: idp.issuer, clientId: idp.clientId, hasSecret: true });
    expect(JSON.stringify(conn)).not.toContain(idp.clientSecret);
    idp.accounts.set('alice', { sub: 'alice', email: 'Alice@Example.com', name: 'Alice Liddell', groups: ['Engineering', 'Admins'] });
    idp.nextAccount = 'alice';
    const b = new Browser();
    const start = await b.request(`${app.url}/t/${t.slug}/login?return_to=${encodeURIComponent(`/t/${t.slug}/api/me`)}`);
    expect(start.status).toBe(303);
    const oidcLogin = new URL(start.headers.get('location')!, app.url);
    expect(oidcLogin.pathname).toBe(`/t/${t.slug}/oidc/login`);
    const toIdp = await b.request(oidcLogin.href);
    const authorize = new URL(toIdp.headers.get('location')!);
    expect(authorize.origin).toBe(idp.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(authorize.searchParams.get('state')).toBeTruthy();
    const { res, url } = await b.follow(authorize.href);
    expect(url).toBe(`${app.url}/t/${t.slug}/api/me`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ id: expect.stringMatching(/^usr_/), email: 'alice@example.com', name: 'Alice Liddell', groups: ['Admins', 'Engineering'] });
  });

  it('answers OIDC third-party-initiated login (iss, login_hint, target_link_uri)', async () => {
    const { t } = await tenantWithOidc();
    idp.accounts.set('bob', { sub: 'bob', email: 'bob@example.com', name: 'Bob' });
    idp.nextAccount = 'nobody';
    const b = new Browser();
    const target = `${app.url}/t/${t.slug}/api/me`;
    const { res, url } = await b.follow(`${app.url}/t/${t.slug}/oidc/login?iss=${encodeURIComponent(idp.issuer)}&login_hint=bob&target_link_uri=${encodeURIComponent(target)}`);
    expect(url).toBe(target);
    expect(await res.json()).toMatchObject({ email: 'bob@example.com', name: 'Bob' });
  });

  it('ignores a target_link_uri outside PUBLIC_URL (no open redirect)', async () => {
    const { t } = await tenantWithOidc();
    idp.accounts.set('carol', { sub: 'carol', email: 'carol@example.com' });
    idp.nextAccount = 'carol';
    const b = new Browser();
    const { url } = await b.follow(`${app.url}/t/${t.slug}/oidc/login?iss=${encodeURIComponent(idp.issuer)}&target_link_uri=${encodeURIComponent('https://evil.example/steal')}`);
    expect(url).toBe(`${app.url}/t/${t.slug}/login`);
    expect((await me(b, app.url, t.slug)).status).toBe(200);
  });

  it('accepts the shared PUBLIC_URL/oidc/callback and recovers the tenant from the state', async () => {
    const { t } = await tenantWithOidc({ 'shared-callback': true, 'require-claim': ['tid=contoso'] });
    idp.accounts.set('dave', { sub: 'dave', email: 'dave@contoso.com', tid: 'contoso' });
    idp.nextAccount = 'dave';
    const b = new Browser();
    let sawShared = false;
    const { url } = await b.follow(`${app.url}/t/${t.slug}/oidc/login?return_to=/t/${t.slug}/api/me`, {}, (u) => {
      if (u.startsWith(`${app.url}/oidc/callback?`)) sawShared = true;
      return false;
    });
    expect(sawShared).toBe(true);
    expect(url).toBe(`${app.url}/t/${t.slug}/api/me`);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'dave@contoso.com' });
  });

  it('refuses at the shared callback a token whose tenant claim (tid) is not the tenant the state names', async () => {
    const { t } = await tenantWithOidc({ 'shared-callback': true, 'require-claim': ['tid=contoso'] });
    idp.accounts.set('eve', { sub: 'eve', email: 'eve@fabrikam.com', tid: 'fabrikam' });
    idp.nextAccount = 'eve';
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain(t.name);
    const traceId = /trc_[0-9a-z]+/.exec(page)![0];
    const trace = await cli(app.services, 'sso-trace show', { id: traceId });
    expect(trace).toMatchObject({ tenant: t.slug, stage: 'oidc.claims', reason: expect.stringContaining('tenant_mismatch') });
    expect((await me(b, app.url, t.slug)).status).toBe(401);
  });

  it('supports client_secret_post', async () => {
    const postIdp = await startOidcIdp({ tokenAuth: 'client_secret_post' });
    try {
      const t = await app.createTenant();
      postIdp.allowOrigin(app.url);
      await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: postIdp.issuer, 'client-id': postIdp.clientId, 'client-secret': postIdp.clientSecret, 'client-auth': 'client_secret_post' });
      postIdp.accounts.set('fay', { sub: 'fay', email: 'fay@example.com' });
      postIdp.nextAccount = 'fay';
      const b = new Browser();
      await b.follow(`${app.url}/t/${t.slug}/login`);
      expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'fay@example.com' });
    } finally {
      await postIdp.close();
    }
  });
});
