import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTenantAdmin } from '../../src/sso/admin/tenant-admins.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import { makeSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, samlLogin, tenantWithSaml } from './support/sso-fixtures.js';

describe.each(testDbKinds)('SSO users: linking, JIT, groups, admins (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const scimUser = (t: TenantCtx, email: string) =>
    t.db.user.create({ data: { id: `usr_${Math.random().toString(36).slice(2)}`, tenantId: t.id, userName: email, userNameKey: email, email, source: 'scim' } });

  it('links a SCIM-provisioned user on first login by e-mail, for an allowed domain', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { allowedDomains: ['corp.example'] });
    const existing = await scimUser(t, 'ann@corp.example');
    const { browser } = await samlLogin(app, t, idp, spMetadata, { nameId: 'okta-00ann', attributes: { email: ['Ann@Corp.example'] } });
    expect((await me(browser, app.url, t.slug)).body).toMatchObject({ id: existing.id, email: 'ann@corp.example' });
    expect(await t.db.user.count()).toBe(1);
  });

  it('never links by an e-mail of a domain the connection may not assert', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { allowedDomains: ['corp.example'] });
    await scimUser(t, 'ceo@other.example');
    const { res, browser } = await samlLogin(app, t, idp, spMetadata, { nameId: 'x1', attributes: { email: ['ceo@other.example'] } });
    expect(res.status).toBe(403);
    expect((await me(browser, app.url, t.slug)).status).toBe(401);
    expect(await t.db.userIdentity.count()).toBe(0);
  });

  it('never lets a second IdP take over an account already linked to another IdP', async () => {
    const idpA = makeSamlIdp();
    const idpB = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idpA, { allowedDomains: ['corp.example'] });
    const { addSamlConnection } = await import('../../src/sso/connections/add-saml-connection.js');
    const connB = await addSamlConnection(app.services, t, { metadataXml: idpB.metadata(), allowedDomains: ['corp.example'] });
    await cli(app.services, 'idp update', { tenant: t.slug, id: connB.id, 'idp-initiated': 'on' });
    // IdP-initiated: with two IdPs the ACS picks the connection by the response's Issuer.
    const first = await postToAcs(app, t, new Browser(), await idpA.response(spMetadata, { nameId: 'a-1', attributes: { email: ['bo@corp.example'] } }));
    expect(first.status).toBe(303);
    const attacker = new Browser();
    const takeover = await postToAcs(app, t, attacker, await idpB.response(spMetadata, { nameId: 'b-9', attributes: { email: ['bo@corp.example'] } }));
    expect(takeover.status).toBe(403);
    expect(await takeover.text()).toContain('linked to another sign-in method');
    expect((await me(attacker, app.url, t.slug)).status).toBe(401);
  });

  it('with JIT off, an unknown user gets an "ask your admin" page and no account', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { jitEnabled: false });
    const { res, browser } = await samlLogin(app, t, idp, spMetadata, { nameId: 'new@corp.example' });
    expect(res.status).toBe(403);
    const page = await res.text();
    expect(page).toContain('Ask your administrator');
    expect(page).toContain(t.name);
    expect(await t.db.user.count()).toBe(0);
    expect((await me(browser, app.url, t.slug)).status).toBe(401);
  });

  it('`idp update` turns JIT off and disables a connection without touching other settings', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp, { allowedDomains: ['corp.example'] });
    const updated = await cli(app.services, 'idp update', { tenant: t.slug, id: conn.id, jit: 'off', name: 'Okta (SCIM-managed)' });
    expect(updated).toMatchObject({ name: 'Okta (SCIM-managed)', jitEnabled: false, allowedDomains: ['corp.example'], matchBy: 'email', enabled: true });
    expect((await samlLogin(app, t, idp, spMetadata, { nameId: 'late@corp.example' })).res.status).toBe(403);
    await cli(app.services, 'idp update', { tenant: t.slug, id: conn.id, enabled: 'off' });
    expect((await fetch(`${app.url}/t/${t.slug}/login`)).status).toBe(503);
    await expect(cli(app.services, 'idp update', { tenant: t.slug, id: conn.id, jit: 'maybe' })).rejects.toThrow(/on or off/);
  });

  it('JIT-creates users and IdP groups; later logins follow the assertion, SCIM groups are left alone', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp);
    await t.db.group.create({ data: { id: 'grp_scim_' + t.id.slice(4, 12), tenantId: t.id, displayName: 'Finance', displayNameKey: 'finance', source: 'scim' } });
    const first = await samlLogin(app, t, idp, spMetadata, { nameId: 'gus@corp.example', attributes: { groups: ['Sales', 'EMEA', 'Finance'] } });
    // The asserted "Finance" is the IdP's own group, separate from the SCIM group of the same name (left empty).
    expect((await me(first.browser, app.url, t.slug)).body.groups).toEqual(['EMEA', 'Finance', 'Sales']);
    const groups = await t.db.group.findMany({ orderBy: [{ displayNameKey: 'asc' }, { source: 'asc' }] });
    expect(groups.map((g) => [g.displayName, g.source])).toEqual([['EMEA', 'idp'], ['Finance', 'scim'], ['Finance', 'idp'], ['Sales', 'idp']]);
    expect(await t.db.groupMembership.count({ where: { groupId: 'grp_scim_' + t.id.slice(4, 12) } })).toBe(0);
    const heard: string[] = [];
    const unsubscribe = app.services.bus.subscribe((e) => {
      if (e.type === 'user.changed' && e.tenantId === t.id) heard.push(e.userId);
    });
    const second = await samlLogin(app, t, idp, spMetadata, { nameId: 'gus@corp.example', attributes: { groups: ['Sales'] } });
    unsubscribe();
    expect((await me(second.browser, app.url, t.slug)).body).toMatchObject({ email: 'gus@corp.example', groups: ['Sales'] });
    const user = await t.db.user.findFirstOrThrow({ where: { email: 'gus@corp.example' } });
    // The group change is announced (the MCP gateway's open streams send tools/list_changed).
    expect(heard).toEqual([user.id]);
    expect(user.source).toBe('jit');
    // A JIT user's profile follows the IdP on later logins.
    const third = await samlLogin(app, t, idp, spMetadata, { nameId: 'gus@corp.example', attributes: { displayName: ['Gus Renamed'] } });
    expect((await me(third.browser, app.url, t.slug)).body).toMatchObject({ id: user.id, name: 'Gus Renamed' });
  });

  it('maps Entra long claim URIs', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp);
    const { browser } = await samlLogin(app, t, idp, spMetadata, {
      nameId: '7f3c-object-id',
      attributes: {
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': ['kim@contoso.example'],
        'http://schemas.microsoft.com/identity/claims/displayname': ['Kim Contoso'],
        'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': ['b1e4…-group-id'],
      },
    });
    expect((await me(browser, app.url, t.slug)).body).toMatchObject({ email: 'kim@contoso.example', name: 'Kim Contoso', groups: ['b1e4…-group-id'] });
  });

  it('uses a connection\'s own attribute names first (--map) and can link by SCIM userName', async () => {
    const idp = makeSamlIdp();
    const t = await app.createTenant();
    const { addSamlConnection } = await import('../../src/sso/connections/add-saml-connection.js');
    await addSamlConnection(app.services, t, { metadataXml: idp.metadata(), allowedDomains: ['corp.example'], matchBy: 'userName', mapping: { email: ['corpMail'], groups: ['teams'] } });
    const scim = await t.db.user.create({ data: { id: `usr_${Math.random().toString(36).slice(2)}`, tenantId: t.id, userName: 'J.Doe@corp.example', userNameKey: 'j.doe@corp.example', email: 'john@corp.example' } });
    const spMetadata = await (await fetch(`${app.url}/t/${t.slug}/saml/metadata`)).text();
    const { browser } = await samlLogin(app, t, idp, spMetadata, { nameId: 'j.doe@corp.example', attributes: { email: ['ignored@corp.example'], corpMail: ['john@corp.example'], teams: ['Blue'] } });
    expect((await me(browser, app.url, t.slug)).body).toMatchObject({ id: scim.id, groups: ['Blue'] });
  });

  it('admins: `admin grant` and members of the tenant admin group', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp);
    const a = await samlLogin(app, t, idp, spMetadata, { nameId: 'root@corp.example' });
    const b = await samlLogin(app, t, idp, spMetadata, { nameId: 'ops@corp.example', attributes: { groups: ['Tenant Admins'] } });
    const idA = String((await me(a.browser, app.url, t.slug)).body.id);
    const idB = String((await me(b.browser, app.url, t.slug)).body.id);
    expect(await isTenantAdmin(t, idA)).toBe(false);
    expect(await cli(app.services, 'admin grant', { tenant: t.slug, email: 'ROOT@corp.example' })).toMatchObject({ id: idA, isAdmin: true });
    expect(await isTenantAdmin(t, idA)).toBe(true);
    expect(await isTenantAdmin(t, idB)).toBe(false);
    await app.services.db.tenant.update({ where: { id: t.id }, data: { settings: { adminGroup: 'tenant admins' } } });
    const fresh = (await findTenantBySlug(app.services.db, t.slug))!;
    expect(await isTenantAdmin(fresh, idB)).toBe(true);
    await expect(cli(app.services, 'admin grant', { tenant: t.slug, email: 'nobody@corp.example' })).rejects.toThrow(/No user/);
  });
});
