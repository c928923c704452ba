import { describe, expect, it } from 'vitest';
import { loginUrl } from '../../src/sso/login-url.js';
import { html, raw } from '../../src/views/html.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { Browser } from './support/browser.js';
import type { TestOidcIdp } from './support/oidc-idp.js';
import { makeSamlIdp } from './support/saml-idp.js';
import { hostileReturnTos } from './support/redirect-variants.js';
import { cli, oidcLogin, tenantWithOidc, useAppWithOidcIdp } from './support/sso-fixtures.js';
import { addSamlConnection } from '../../src/sso/connections/add-saml-connection.js';


describe('return_to and the template helper', () => {
  it('loginUrl builds the tenant login URL with a safe return path only', () => {
    const t = { slug: 'acme' } as Parameters<typeof loginUrl>[1];
    const s = { config: { publicUrl: 'https://sso.example.com' } } as Parameters<typeof loginUrl>[0];
    expect(loginUrl(s, t, '/t/acme/interaction/abc?x=1')).toBe('/t/acme/login?return_to=%2Ft%2Facme%2Finteraction%2Fabc%3Fx%3D1');
    expect(loginUrl(s, t, 'https://evil.example')).toBe('/t/acme/login');
    expect(loginUrl(s, t, '/.//evil.example')).toBe('/t/acme/login');
  });

  it('escapes every interpolated value unless it is trusted markup', () => {
    expect(html`<p title="${'"><script>'}">${'<b>&'}</p>${raw('<hr>')}`.value).toBe('<p title="&quot;&gt;&lt;script&gt;">&lt;b&gt;&amp;</p><hr>');
    expect(html`${['<a>', html`<i>ok</i>`]}`.value).toBe('&lt;a&gt;<i>ok</i>');
  });
});

describe.each(testDbKinds)('login routing (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    idp = i;
  });

  it('says so (naming the tenant) when no IdP is connected', async () => {
    const t = await app.createTenant(undefined, 'Acme <Widgets> & Co');
    const res = await fetch(`${app.url}/t/${t.slug}/login`);
    expect(res.status).toBe(503);
    const page = await res.text();
    expect(page).toContain('Acme &lt;Widgets&gt; &amp; Co');
    expect(page).toContain('<html lang="en">');
  });

  it('sends the user straight to the only IdP, keeping a safe return path', async () => {
    const { t, conn } = await tenantWithOidc(app, idp);
    const res = await fetch(`${app.url}/t/${t.slug}/login?return_to=${encodeURIComponent('/t/x/next')}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/t/${t.slug}/oidc/login?connection=${conn.id}&return_to=%2Ft%2Fx%2Fnext`);
  });

  it('shows an accessible chooser with e-mail domain discovery when there are several IdPs', async () => {
    const { t, conn } = await tenantWithOidc(app, idp, { 'allowed-domain': ['corp.example'] });
    const saml = await addSamlConnection(app.services, t, { metadataXml: makeSamlIdp().metadata(), name: 'Okta <SAML>', allowedDomains: ['subsidiary.example'] });
    const page = await (await fetch(`${app.url}/t/${t.slug}/login`)).text();
    expect(page).toContain('<h1>Choose how to sign in</h1>');
    expect(page).toContain('<nav aria-label="Sign-in methods">');
    expect(page).toContain('Continue with Okta &lt;SAML&gt;');
    expect(page).toMatch(/<label for="email">[^<]+<\/label>/);
    expect(page).toContain(t.name);
    const viaDomain = await fetch(`${app.url}/t/${t.slug}/login?email=someone%40Subsidiary.example`, { redirect: 'manual' });
    expect(viaDomain.headers.get('location')).toContain(`/t/${t.slug}/saml/login?connection=${saml.id}`);
    const other = await fetch(`${app.url}/t/${t.slug}/login?email=someone%40corp.example`, { redirect: 'manual' });
    expect(other.headers.get('location')).toContain(`connection=${conn.id}`);
    const unknown = await (await fetch(`${app.url}/t/${t.slug}/login?email=x%40nowhere.example`)).text();
    expect(unknown).toContain('role="alert"');
  });

  it('never redirects off-site after login, whatever return_to says (real Location headers, every hostile variant)', async () => {
    const { t, conn } = await tenantWithOidc(app, idp);
    const fallback = `/t/${t.slug}/login`;
    const hostile = hostileReturnTos(app.url);
    const b = await oidcLogin(app, idp, t, { sub: 'rt', email: 'rt@example.com' });
    for (const v of hostile) {
      const q = encodeURIComponent(v);
      // Signed in: a hostile return path falls back to the "signed in as" page, never a redirect.
      const signedIn = await b.request(`${app.url}/t/${t.slug}/login?return_to=${q}`);
      expect([v, signedIn.status, signedIn.headers.get('location')]).toEqual([v, 200, null]);
      // Not signed in: routing to the IdP carries only the fallback.
      const routed = await fetch(`${app.url}/t/${t.slug}/login?return_to=${q}`, { redirect: 'manual' });
      expect([v, routed.headers.get('location')]).toEqual([v, `/t/${t.slug}/oidc/login?connection=${conn.id}&return_to=${encodeURIComponent(fallback)}`]);
    }
    const ok = await b.request(`${app.url}/t/${t.slug}/login?return_to=${encodeURIComponent(`/t/${t.slug}/api/me`)}`);
    expect(ok.headers.get('location')).toBe(`/t/${t.slug}/api/me`);
    // Through whole logins: return_to and target_link_uri (absolute, OIDC Core §4) end on the fallback, never off-site.
    for (const v of ['//evil.example/', '/.//evil.example/x', '/a/..//evil.example', '/%2F%2Fevil.example', `${app.url}/.//evil.example`, 'https://evil.example/']) {
      for (const param of ['return_to', 'target_link_uri']) {
        const fresh = new Browser();
        idp.nextAccount = 'rt';
        const { url } = await fresh.follow(`${app.url}/t/${t.slug}/oidc/login?${param}=${encodeURIComponent(v)}`);
        expect([param, v, url]).toEqual([param, v, `${app.url}${fallback}`]);
      }
    }
    const fresh = new Browser();
    idp.nextAccount = 'rt';
    const { url } = await fresh.follow(`${app.url}/t/${t.slug}/oidc/login?target_link_uri=${encodeURIComponent(`${app.url}/t/${t.slug}/api/me?x=1`)}`);
    expect(url).toBe(`${app.url}/t/${t.slug}/api/me?x=1`);
  });

  it('manages connections from the CLI: list and remove (secrets never printed, removed from the vault)', async () => {
    const { t, conn } = await tenantWithOidc(app, idp);
    const listed = await cli(app.services, 'idp list', { tenant: t.slug });
    expect(listed.connections).toEqual([expect.objectContaining({ id: conn.id, kind: 'oidc', hasSecret: true })]);
    expect(JSON.stringify(listed)).not.toContain(idp.clientSecret);
    await expect(cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': 'x', 'client-secret': 'y' })).rejects.toThrow(/already exists/);
    expect(await cli(app.services, 'idp remove', { tenant: t.slug, id: String(conn.id) })).toEqual({ id: conn.id, removed: true });
    expect((await cli(app.services, 'idp list', { tenant: t.slug })).connections).toEqual([]);
    expect(await t.db.vaultSecret.count({ where: { ownerKind: 'idp-connection' } })).toBe(0);
    await expect(cli(app.services, 'sso-trace show', { id: 'trc_nope' })).rejects.toThrow(/No SSO trace/);
  });
});
