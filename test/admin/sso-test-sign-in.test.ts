import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAUTH_WINDOW_MS } from '../../src/admin/http/admin-session.js';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { updateConnection } from '../../src/sso/connections/update-connection.js';
import { AUTHN_SKEW_MS, staleAuthentication } from '../../src/sso/login/login-purpose.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from '../sso/support/browser.js';
import { startEvilIdp } from '../sso/support/evil-oidc-idp.js';
import { startOidcIdp, type TestOidcIdp } from '../sso/support/oidc-idp.js';
import { makeSamlIdp, readAuthnRequest } from '../sso/support/saml-idp.js';
import { cli, postToAcs, tenantWithSaml } from '../sso/support/sso-fixtures.js';
import { adminApi, signIn } from './support.js';

describe('forced sign-in freshness (unit)', () => {
  const asked = new Date('2026-12-05T10:00:00Z');
  it('accepts an authentication after the request (within the skew), refuses an older one or none; checks nothing unforced', () => {
    expect(staleAuthentication(asked, new Date('2026-12-05T10:00:05Z'))).toBeNull();
    expect(staleAuthentication(asked, new Date(asked.getTime() - AUTHN_SKEW_MS))).toBeNull();
    expect(staleAuthentication(asked, new Date(asked.getTime() - AUTHN_SKEW_MS - 1000))).toMatch(/its own session/);
    expect(staleAuthentication(asked, new Date('2026-12-05T08:00:00Z'))).toMatch(/ForceAuthn \/ prompt=login ignored/);
    expect(staleAuthentication(asked, null)).toMatch(/did not say when/);
    expect(staleAuthentication(asked, new Date('garbage'))).toMatch(/did not say when/);
    expect(staleAuthentication(undefined, new Date('2020-01-01T00:00:00Z'))).toBeNull();
  });
});

/** "Test sign-in" and re-authentication of the admin console (issue 15 §2), against the real SAML and OIDC test IdPs. */
describe.each(testDbKinds)('SSO wizard: test sign-in, mapping preview, forced re-authentication (%s)', { timeout: 180_000 }, (kind) => {
  let app: TestApp;
  let oidcIdp: TestOidcIdp;
  beforeAll(async () => {
    app = await startTestApp(kind);
    oidcIdp = await startOidcIdp();
    oidcIdp.allowOrigin(app.url);
  });
  afterAll(async () => {
    await oidcIdp?.close();
    await app?.close();
  });

  /** A browser holding an admin session of `t` (as a sign-in leaves it). */
  async function adminBrowser(t: TenantCtx, email?: string) {
    const admin = await signIn(app, t, { admin: true, ...(email && { email }) });
    const b = new Browser();
    b.cookies(app.url).set(sessionCookieName(app.url, t), admin.token);
    return { b, admin };
  }

  const attributes = { email: ['ann@example.com'], mail: ['ann.alt@example.com'], displayName: ['Ann Example'], groups: ['Sales', 'Everyone'] };

  it('SAML: a test of a connection not yet on sends ForceAuthn, creates no user and keeps the admin signed in; shows the decoded assertion and the user it would create', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false, allowedDomains: ['example.com'] });
    await updateConnection(app.services, t, conn.id, { enabled: false });
    const { b, admin } = await adminBrowser(t);
    const users = await t.db.user.count();

    const start = await b.request(`${app.url}/t/${t.slug}/admin/sso/test?connection=${conn.id}`);
    expect(start.status).toBe(303);
    const req = readAuthnRequest(start.headers.get('location')!);
    expect(req.xml).toContain('ForceAuthn="true"');
    const response = await idp.response(spMetadata, { nameId: 'ann@example.com', attributes, inResponseTo: req.id });
    const done = await postToAcs(app, t, b, response, req.params.get('RelayState') ?? '');
    expect(done.status).toBe(303);
    const resultUrl = `/t/${t.slug}/admin/sso/test-result?connection=${conn.id}`;
    expect(done.headers.get('location')).toBe(resultUrl);

    // A dry run: no user, no identity, and the admin's own session is untouched.
    expect(await t.db.user.count()).toBe(users);
    expect(await t.db.userIdentity.count()).toBe(0);
    const session = await adminApi(app, t, admin).get('/session');
    expect(session.status).toBe(200);
    expect(((await session.json()) as { user: { id: string } }).user.id).toBe(admin.userId);

    const page = await (await b.request(`${app.url}${resultUrl}`)).text();
    for (const shown of ['Would create the user (JIT)', 'ann@example.com', 'ann.alt@example.com', 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport', '_s1', 'Everyone, Sales', idp.entityId]) expect(page).toContain(shown);
    expect(page).not.toMatch(/SignatureValue|SAMLResponse|X509Certificate/);

    const api = await adminApi(app, t, admin).get(`/sso/test-result?connection=${conn.id}`);
    expect(await api.json()).toMatchObject({
      connection: { id: conn.id, enabled: false },
      result: {
        received: { protocol: 'saml', subject: 'ann@example.com', sessionIndex: '_s1', signature: { signed: 'assertion', certificateSha256: new X509Certificate(idp.keys.certPem).fingerprint256 }, attributes: { mail: 'ann.alt@example.com' } },
        outcome: { kind: 'created', groups: ['Everyone', 'Sales'] },
      },
    });
    const audit = await t.db.auditEvent.findFirst({ where: { action: 'sso.test' } });
    expect(audit).toMatchObject({ outcome: 'success', actorId: admin.userId });
    // The wizard page: our SP values (with copy buttons) and every certificate with its fingerprint and expiry.
    const sso = await (await b.request(`${app.url}/t/${t.slug}/admin/sso`)).text();
    const idpCert = new X509Certificate(idp.keys.certPem);
    for (const shown of [`${app.url}/t/${t.slug}/saml/acs`, `${app.url}/t/${t.slug}/saml/metadata`, `${app.url}/t/${t.slug}/saml/slo`, idpCert.fingerprint256, `${new Date(idpCert.validTo).toISOString().slice(0, 16).replace('T', ' ')} UTC`]) expect(sso).toContain(shown);
    expect(sso.match(/data-copy="/g)?.length).toBeGreaterThanOrEqual(6);
  });

  it('mapping preview: the JSON preview and the no-script "Preview" use the login’s mapping, save nothing, and need the CSRF token; "Save mapping" saves', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false, allowedDomains: ['example.com'] });
    const { b, admin } = await adminBrowser(t);
    const start = await b.request(`${app.url}/t/${t.slug}/admin/sso/test?connection=${conn.id}`);
    const req = readAuthnRequest(start.headers.get('location')!);
    await postToAcs(app, t, b, await idp.response(spMetadata, { nameId: 'ann@example.com', attributes, inResponseTo: req.id }), '');

    const api = adminApi(app, t, admin);
    const preview = (mapping: unknown, csrf?: string | null) =>
      fetch(`${app.url}/t/${t.slug}/api/admin/sso/mapping-preview`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: admin.cookie, ...(csrf !== null && { 'x-csrf-token': csrf ?? admin.csrf }) }, body: JSON.stringify({ connection: conn.id, mapping }) });
    expect(await (await preview({})).json()).toEqual({ fields: { email: 'ann@example.com', givenName: null, familyName: null, displayName: 'Ann Example', groups: ['Sales', 'Everyone'] } });
    expect(await (await preview({ email: ['mail'], groups: ['nothing-here'] })).json()).toMatchObject({ fields: { email: 'ann.alt@example.com', groups: ['Sales', 'Everyone'] } });
    expect((await preview({ email: ['mail'] }, null)).status).toBe(403);
    expect((await preview({ email: ['mail'] }, 'forged')).status).toBe(403);
    expect((await preview({ email: 'mail' })).status).toBe(400);

    const form = (path: string, fields: Record<string, string>) => b.postForm(`${app.url}/t/${t.slug}/admin/${path}`, { csrf: admin.csrf, id: conn.id, map_email: 'mail', map_givenName: '', map_familyName: '', map_displayName: '', map_groups: '', ...fields });
    const noScript = await form('sso/mapping-preview', {});
    expect(noScript.status).toBe(200);
    expect(await noScript.text()).toMatch(/data-preview-field="email">ann\.alt@example\.com<\/output>/);
    expect((await api.get('/sso')).ok).toBe(true);
    const stored = async () => ((await t.db.idpConnection.findFirst({ where: { id: conn.id } }))!.config as { mapping?: unknown }).mapping;
    expect(await stored()).toEqual({});
    expect((await form('sso/mapping-preview', { csrf: 'forged' })).status).toBe(403);

    // An invalid mapping saved from the results page is refused on the SSO page, nothing saved (not "Page not found").
    const tooMany = await form('actions/idp-update', { map_email: Array.from({ length: 11 }, (_, i) => `a${i}`).join(' '), return: `/t/${t.slug}/admin/sso/test-result?connection=${conn.id}` });
    expect(tooMany.status).toBe(400);
    const refusedPage = await tooMany.text();
    expect(refusedPage).not.toContain('Page not found');
    expect(refusedPage).toContain('Single sign-on');
    expect(await stored()).toEqual({});
    const saved = await form('actions/idp-update', { return: `/t/${t.slug}/admin/sso/test-result?connection=${conn.id}` });
    expect(saved.status).toBe(303);
    expect(await stored()).toEqual({ email: ['mail'] });
    const after = await (await b.request(`${app.url}${saved.headers.get('location')}`)).text();
    expect(after).toContain('Connection updated.');
    expect(after).toMatch(/data-preview-field="email">ann\.alt@example\.com<\/output>/);
  });

  it('SAML: a test that would be refused shows the real reason and its trace; a failure at the ACS sends the admin to its trace', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false, allowedDomains: ['example.com'], jitEnabled: false });
    const { b } = await adminBrowser(t);
    const run = async (o: Parameters<typeof idp.response>[1] extends infer R ? Omit<R & object, 'inResponseTo'> : never) => {
      const start = await b.request(`${app.url}/t/${t.slug}/admin/sso/test?connection=${conn.id}`);
      const req = readAuthnRequest(start.headers.get('location')!);
      return postToAcs(app, t, b, await idp.response(spMetadata, { ...o, inResponseTo: req.id }), '');
    };
    const refused = await run({ nameId: 'nobody@example.com', attributes });
    expect(refused.headers.get('location')).toBe(`/t/${t.slug}/admin/sso/test-result?connection=${conn.id}`);
    const page = await (await b.request(`${app.url}${refused.headers.get('location')}`)).text();
    expect(page).toContain('Would be refused');
    expect(page).toContain('not_provisioned');
    const trace = await t.db.ssoTrace.findFirst({ where: { connectionId: conn.id }, orderBy: { createdAt: 'desc' } });
    expect(trace?.reason).toMatch(/^not_provisioned: test sign-in/);
    expect(page).toContain(trace!.id);

    const forged = await run({ nameId: 'ann@example.com', attributes, signWith: makeSamlIdp().keys });
    const to = new URL(forged.headers.get('location')!, app.url);
    expect(forged.status).toBe(303);
    expect(to.pathname).toBe(`/t/${t.slug}/admin/sso/test-result`);
    const failedPage = await (await b.request(to.href)).text();
    expect(failedPage).toContain('Test sign-in failed');
    expect(failedPage).toContain('invalid_response');
    expect(failedPage).toContain(to.searchParams.get('trace')!);
  });

  it('refusals: a non-admin, another tenant’s connection, another tenant’s trace', async () => {
    const idp = makeSamlIdp();
    const { t, conn } = await tenantWithSaml(app, idp, { idpInitiated: false });
    const other = await tenantWithSaml(app, makeSamlIdp(), { idpInitiated: false });
    const user = await signIn(app, t);
    const nb = new Browser();
    nb.cookies(app.url).set(sessionCookieName(app.url, t), user.token);
    expect((await nb.request(`${app.url}/t/${t.slug}/admin/sso/test?connection=${conn.id}`)).status).toBe(403);
    expect((await nb.request(`${app.url}/t/${t.slug}/admin/sso/test-result?connection=${conn.id}`)).status).toBe(403);
    expect((await adminApi(app, t, user).get(`/sso/test-result?connection=${conn.id}`)).status).toBe(403);

    const { b, admin } = await adminBrowser(t);
    const foreign = await b.request(`${app.url}/t/${t.slug}/admin/sso/test?connection=${other.conn.id}`);
    expect(foreign.headers.get('location')).toBe(`/t/${t.slug}/admin/sso`);
    expect((await adminApi(app, t, admin).get(`/sso/test-result?connection=${other.conn.id}`)).status).toBe(404);
    const otherTrace = await other.t.db.ssoTrace.create({ data: { id: 'trc_foreign_1', tenantId: other.t.id, connectionId: other.conn.id, stage: 'x', reason: 'secret reason of another tenant', summary: {}, createdAt: app.clock.now() } });
    const page = await (await b.request(`${app.url}/t/${t.slug}/admin/sso/test-result?connection=${conn.id}&trace=${otherTrace.id}`)).text();
    expect(page).not.toContain('secret reason of another tenant');
  });

  it('SAML re-authentication sends ForceAuthn and refuses an AuthnInstant older than the request (the IdP’s session); a fresh one unlocks a sensitive action', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { idpInitiated: false, allowedDomains: ['example.com'] });
    const { b, admin } = await adminBrowser(t, 'boss@example.com');
    await t.db.session.updateMany({ where: { userId: admin.userId }, data: { data: { authTime: new Date(app.clock.now().getTime() - REAUTH_WINDOW_MS - 60_000).toISOString() } } });
    const stale = await adminApi(app, t, admin).act('scim-token-create', { label: 'x' });
    expect(stale.status).toBe(401);
    const reauthUrl = ((await stale.json()) as { reauthUrl: string }).reauthUrl;

    const reauth = async () => {
      const { res } = await b.follow(new URL(reauthUrl, app.url).href, {}, (u) => u.startsWith(idp.ssoUrl));
      return readAuthnRequest(res.headers.get('location')!);
    };
    const first = await reauth();
    expect(first.xml).toContain('ForceAuthn="true"');
    // The IdP answered from its session cookie: authenticated an hour ago, before we asked.
    const old = await postToAcs(app, t, b, await idp.response(spMetadata, { nameId: 'boss@example.com', attributes: { email: ['boss@example.com'] }, inResponseTo: first.id, authnInstant: new Date(Date.now() - 3_600_000) }), '');
    expect(old.status).toBe(400);
    const trace = await t.db.ssoTrace.findFirst({ where: { reason: { startsWith: 'stale_authentication' } } });
    expect(trace?.reason).toMatch(/ForceAuthn \/ prompt=login ignored/);
    expect((await adminApi(app, t, admin).act('scim-token-create', { label: 'x' })).status).toBe(401);

    const second = await reauth();
    const fresh = await postToAcs(app, t, b, await idp.response(spMetadata, { nameId: 'boss@example.com', attributes: { email: ['boss@example.com'] }, inResponseTo: second.id }), '');
    expect(fresh.status).toBe(303);
    const token = b.cookies(app.url).get(sessionCookieName(app.url, t))!;
    expect(token).not.toBe(admin.token);
    const created = await fetch(`${app.url}/t/${t.slug}/api/admin/actions/scim-token-create`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: `${sessionCookieName(app.url, t)}=${token}`, 'x-csrf-token': (await (await fetch(`${app.url}/t/${t.slug}/api/admin/session`, { headers: { cookie: `${sessionCookieName(app.url, t)}=${token}` } })).json() as { csrfToken: string }).csrfToken }, body: JSON.stringify({ label: 'x' }) });
    expect(created.status).toBe(200);

    // An ordinary sign-in asks for no ForceAuthn and accepts the IdP's session.
    const plain = await new Browser().request(`${app.url}/t/${t.slug}/saml/login`);
    expect(readAuthnRequest(plain.headers.get('location')!).xml).not.toContain('ForceAuthn');
  });

  it('OIDC: a forced sign-in answered from the IdP’s session (old or missing auth_time) is refused; a fresh auth_time signs in; an ordinary sign-in needs none', async () => {
    const evil = await startEvilIdp();
    try {
      const t = await app.createTenant();
      await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: evil.issuer, 'client-id': evil.state.clientId, 'client-secret': 'evil-secret' });
      const now = () => Math.floor(app.clock.now().getTime() / 1000);
      const login = async (authTime: number | undefined, prompt = '?prompt=login') => {
        // This IdP ignores prompt=login and max_age, as one answering from its session cookie does.
        evil.state.tamper = (m) => ({ ...m, claims: { ...m.claims, ...(authTime !== undefined && { auth_time: authTime }) } });
        const b = new Browser();
        const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login${prompt}`);
        return { status: res.status, signedIn: (await me(b, app.url, t.slug)).status === 200 };
      };
      expect(await login(now() - 3600)).toEqual({ status: 400, signedIn: false });
      expect(await login(undefined)).toEqual({ status: 400, signedIn: false });
      const traces = await t.db.ssoTrace.findMany({ orderBy: { createdAt: 'asc' } });
      expect(traces.map((x) => x.reason.split(':')[0])).toEqual(['stale_authentication', 'stale_authentication']);
      expect(traces[0]!.reason).toMatch(/ForceAuthn \/ prompt=login ignored/);
      expect(traces[1]!.reason).toMatch(/did not say when/);
      expect(await login(now())).toEqual({ status: 200, signedIn: true });
      expect(await login(undefined, '')).toEqual({ status: 200, signedIn: true });
    } finally {
      await evil.close();
    }
  });

  it('OIDC: re-authentication and test sign-in send prompt=login and max_age=0; the test shows the claims as received without nonce or token hashes', async () => {
    const t = await app.createTenant();
    const conn = await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: oidcIdp.issuer, 'client-id': oidcIdp.clientId, 'client-secret': oidcIdp.clientSecret, name: 'Corp IdP' });
    const forced = await new Browser().request(`${app.url}/t/${t.slug}/oidc/login?prompt=login`);
    const params = new URL(forced.headers.get('location')!).searchParams;
    expect(params.get('prompt')).toBe('login');
    expect(params.get('max_age')).toBe('0');
    const plain = new URL((await new Browser().request(`${app.url}/t/${t.slug}/oidc/login`)).headers.get('location')!).searchParams;
    expect(plain.get('prompt')).toBeNull();
    expect(plain.get('max_age')).toBeNull();

    const { b, admin } = await adminBrowser(t);
    oidcIdp.accounts.set('sub-dora', { sub: 'sub-dora', email: 'dora@example.com', name: 'Dora', groups: ['Ops'] });
    oidcIdp.nextAccount = 'sub-dora';
    const { url } = await b.follow(`${app.url}/t/${t.slug}/admin/sso/test?connection=${String(conn.id)}`);
    expect(new URL(url).pathname).toBe(`/t/${t.slug}/admin/sso/test-result`);
    const result = (await (await adminApi(app, t, admin).get(`/sso/test-result?connection=${String(conn.id)}`)).json()) as { result: { received: { attributes: Record<string, unknown>; authnInstant?: string }; outcome: { kind: string } } };
    expect(result.result.outcome.kind).toBe('created');
    expect(result.result.received.attributes).toMatchObject({ sub: 'sub-dora', email: 'dora@example.com', groups: ['Ops'] });
    expect(result.result.received.authnInstant).toBeTruthy();
    for (const hidden of ['nonce', 'at_hash', 'c_hash']) expect(result.result.received.attributes).not.toHaveProperty(hidden);
    expect(await t.db.user.count({ where: { email: 'dora@example.com' } })).toBe(0);
  });
});
