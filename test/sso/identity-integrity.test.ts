import { describe, expect, it } from 'vitest';
import { addSamlConnection } from '../../src/sso/connections/add-saml-connection.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { USER } from '../scim/scim-client.js';
import { Browser, me } from './support/browser.js';
import type { TestOidcIdp } from './support/oidc-idp.js';
import { makeSamlIdp, type TestSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, samlLogin, tenantWithSaml, useAppWithOidcIdp } from './support/sso-fixtures.js';

/** Issue 8 §4: the e-mail domain rule on every update, email_verified, SCIM users bound to a connection, real reasons. */
describe.each(testDbKinds)('SSO identity integrity (%s)', (kind) => {
  let app: TestApp;
  let oidcIdp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    oidcIdp = i;
  });

  const scimUser = (t: TenantCtx, email: string) =>
    t.db.user.create({ data: { id: `usr_${Math.random().toString(36).slice(2)}`, tenantId: t.id, userName: email, userNameKey: email, email, source: 'scim' } });

  /** The refusal page's text and the trace its id points to. */
  async function refusal(res: Response) {
    const page = await res.text();
    const traceId = /trc_[0-9a-z]+/.exec(page)?.[0];
    const trace = traceId ? await cli(app.services, 'sso-trace show', { id: traceId }) : {};
    return { page, reason: String(trace.reason ?? '') };
  }

  /** A second SAML connection of `t`, with IdP-initiated sign-in on like tenantWithSaml's (the logins below are unsolicited). */
  const addSecondSaml = async (t: TenantCtx, input: Parameters<typeof addSamlConnection>[2]) => {
    const conn = await addSamlConnection(app.services, t, input);
    await cli(app.services, 'idp update', { tenant: t.slug, id: conn.id, 'idp-initiated': 'on' });
    return conn;
  };

  /** IdP-initiated SAML login (the ACS picks the connection by Issuer). */
  const idpInitiated = async (t: TenantCtx, idp: TestSamlIdp, spMetadata: string, nameId: string, attributes: Record<string, string[]>, browser = new Browser()) =>
    ({ res: await postToAcs(app, t, browser, await idp.response(spMetadata, { nameId, attributes })), browser });

  it.each([
    ['another domain', 'gus@attacker.test'],
    ['a look-alike suffix', 'gus@corp.example.attacker.test'],
    ['a subdomain', 'gus@evil.corp.example'],
    ['a prefix', 'gus@xcorp.example'],
  ])('an IdP may not move a JIT user to an e-mail of %s', async (_label, moved) => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { allowedDomains: ['corp.example'] });
    const first = await samlLogin(app, t, idp, spMetadata, { nameId: 'okta-gus', attributes: { email: ['gus@corp.example'] } });
    expect(first.res.status).toBe(303);
    const { res, browser } = await samlLogin(app, t, idp, spMetadata, { nameId: 'okta-gus', attributes: { email: [moved] } });
    expect(res.status).toBe(403);
    const { page, reason } = await refusal(res);
    expect(page).toContain('domain is not allowed for this sign-in method');
    expect(reason).toMatch(/^domain_not_allowed: .*not allowed/);
    expect((await me(browser, app.url, t.slug)).status).toBe(401);
    expect((await t.db.user.findFirstOrThrow()).email).toBe('gus@corp.example');
    // Control: a move within an allowed domain is followed.
    const ok = await samlLogin(app, t, idp, spMetadata, { nameId: 'okta-gus', attributes: { email: ['gus.renamed@corp.example'] } });
    expect((await me(ok.browser, app.url, t.slug)).body).toMatchObject({ email: 'gus.renamed@corp.example' });
  });

  it.each([[false], ['false'], ['FALSE']])('email_verified=%j (OIDC) neither links an existing user nor changes a JIT user', async (flag) => {
    const t = await app.createTenant();
    await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: oidcIdp.issuer, 'client-id': oidcIdp.clientId, 'client-secret': oidcIdp.clientSecret, 'allowed-domain': ['corp.example'] });
    const victim = await scimUser(t, 'cfo@corp.example');
    const sub = `unverified-${Math.random().toString(36).slice(2)}`;
    oidcIdp.accounts.set(sub, { sub, email: 'cfo@corp.example', email_verified: flag });
    oidcIdp.nextAccount = sub;
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    expect(res.status).toBe(403);
    const { page, reason } = await refusal(res);
    expect(page).toContain('not verified');
    expect(reason).toMatch(/^email_unverified:/);
    expect(await t.db.userIdentity.count({ where: { userId: victim.id } })).toBe(0);
    expect((await me(b, app.url, t.slug)).status).toBe(401);

    // A JIT user whose IdP later sends an unverified address keeps the verified one.
    const jitSub = `${sub}-jit`;
    oidcIdp.accounts.set(jitSub, { sub: jitSub, email: 'dan@corp.example', name: 'Dan' });
    oidcIdp.nextAccount = jitSub;
    const first = new Browser();
    expect((await first.follow(`${app.url}/t/${t.slug}/oidc/login`)).res.status).toBe(200);
    oidcIdp.accounts.set(jitSub, { sub: jitSub, email: 'ceo@corp.example', name: 'Dan Two', email_verified: flag });
    oidcIdp.nextAccount = jitSub;
    const again = new Browser();
    expect((await again.follow(`${app.url}/t/${t.slug}/oidc/login`)).res.status).toBe(200);
    expect((await me(again, app.url, t.slug)).body).toMatchObject({ email: 'dan@corp.example', name: 'Dan Two' });
  });

  it('a SCIM user provisioned through a connection-bound token links only through that connection', async () => {
    const okta = makeSamlIdp();
    const rogue = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, okta, { allowedDomains: ['corp.example'] });
    await addSecondSaml(t, { metadataXml: rogue.metadata(), allowedDomains: ['corp.example'] });
    const token = await createScimToken(t, app.url, 'Okta', String(conn.id));
    expect(token.connectionId).toBe(conn.id);
    const created = await fetch(`${token.baseUrl}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: [USER], userName: 'ann@corp.example', emails: [{ value: 'ann@corp.example', primary: true }], active: true }),
    });
    expect(created.status).toBe(201);
    const annId = ((await created.json()) as { id: string }).id;
    expect((await t.db.user.findFirstOrThrow({ where: { id: annId } })).ssoConnectionId).toBe(conn.id);

    // The other IdP of the tenant asserts the same (allowed) domain first: refused, with the real reason.
    const attempt = await idpInitiated(t, rogue, spMetadata, 'rogue-ann', { email: ['ann@corp.example'] });
    expect(attempt.res.status).toBe(403);
    const { page, reason } = await refusal(attempt.res);
    expect(page).toContain('signs in through another identity provider');
    expect(reason).toMatch(new RegExp(`^bound_elsewhere: user ${annId} is bound to connection ${String(conn.id)}`));
    expect((await me(attempt.browser, app.url, t.slug)).status).toBe(401);
    // The provisioning connection links her.
    const ok = await idpInitiated(t, okta, spMetadata, 'okta-ann', { email: ['ann@corp.example'] });
    expect(ok.res.status).toBe(303);
    expect((await me(ok.browser, app.url, t.slug)).body).toMatchObject({ id: annId });
  });

  it('an unbound user is not linked while two connections of the tenant may assert the domain', async () => {
    const a = makeSamlIdp();
    const b = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, a, { allowedDomains: ['corp.example'] });
    const second = await addSecondSaml(t, { metadataXml: b.metadata(), allowedDomains: ['other.example', 'corp.example'] });
    const bo = await scimUser(t, 'bo@corp.example');
    for (const idp of [a, b]) {
      const { res } = await idpInitiated(t, idp, spMetadata, `sub-${Math.random()}`, { email: ['BO@corp.example'] });
      expect(res.status).toBe(403);
      const { page, reason } = await refusal(res);
      expect(page).toContain('Several sign-in methods');
      expect(reason).toMatch(/^ambiguous_domain:/);
    }
    expect(await t.db.userIdentity.count({ where: { userId: bo.id } })).toBe(0);
    // Once the admin takes the domain off the second connection, the first one links as before.
    await cli(app.services, 'idp update', { tenant: t.slug, id: String(second.id), 'allowed-domain': ['other.example'] });
    const ok = await idpInitiated(t, a, spMetadata, 'a-bo', { email: ['bo@corp.example'] });
    expect((await me(ok.browser, app.url, t.slug)).body).toMatchObject({ id: bo.id });
  });

  it('`user bind`: the admin chooses the connection; the other one is refused, `none` unbinds', async () => {
    const a = makeSamlIdp();
    const b = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, a, { allowedDomains: ['corp.example'] });
    const second = await addSecondSaml(t, { metadataXml: b.metadata(), allowedDomains: ['corp.example'] });
    const cy = await scimUser(t, 'cy@corp.example');
    expect(await cli(app.services, 'user bind', { tenant: t.slug, email: 'CY@corp.example', connection: String(second.id) })).toEqual({ id: cy.id, email: 'cy@corp.example', ssoConnectionId: second.id });
    const viaA = await idpInitiated(t, a, spMetadata, 'a-cy', { email: ['cy@corp.example'] });
    expect((await refusal(viaA.res)).reason).toMatch(/^bound_elsewhere:/);
    const viaB = await idpInitiated(t, b, spMetadata, 'b-cy', { email: ['cy@corp.example'] });
    expect((await me(viaB.browser, app.url, t.slug)).body).toMatchObject({ id: cy.id });
    // Rebinding to A reports the identity that now stops working, and B's next login is refused.
    expect(await cli(app.services, 'user bind', { tenant: t.slug, email: 'cy@corp.example', connection: String(conn.id) })).toMatchObject({ identitiesNowRefused: [second.id] });
    expect((await refusal((await idpInitiated(t, b, spMetadata, 'b-cy', { email: ['cy@corp.example'] })).res)).reason).toMatch(/^bound_elsewhere:/);
    expect(await cli(app.services, 'user bind', { tenant: t.slug, email: 'cy@corp.example', connection: 'none' })).toMatchObject({ ssoConnectionId: null });
    expect((await idpInitiated(t, b, spMetadata, 'b-cy', { email: ['cy@corp.example'] })).res.status).toBe(303);
    expect(await t.db.auditEvent.count({ where: { action: 'user.bind', targetId: cy.id } })).toBe(3);
    // Paired: a connection of another tenant cannot be chosen.
    const other = await tenantWithSaml(app, makeSamlIdp());
    await expect(cli(app.services, 'user bind', { tenant: t.slug, email: 'cy@corp.example', connection: String(other.conn.id) })).rejects.toThrow(/No IdP connection/);
    await expect(cli(app.services, 'user bind', { tenant: other.t.slug, email: 'cy@corp.example', connection: String(other.conn.id) })).rejects.toThrow(/No user/);
  });

  it('says "domain not allowed", not "linked to another sign-in method", when that is the reason', async () => {
    const idp = makeSamlIdp();
    // No allowed domains: this connection may create users but never link an existing one.
    const { t, spMetadata } = await tenantWithSaml(app, idp);
    await scimUser(t, 'eve@corp.example');
    const { res } = await samlLogin(app, t, idp, spMetadata, { nameId: 'eve@corp.example' });
    expect(res.status).toBe(403);
    const { page, reason } = await refusal(res);
    expect(page).toContain('domain is not allowed for this sign-in method');
    expect(page).not.toContain('linked to another sign-in method');
    expect(reason).toMatch(/^domain_not_allowed:/);
    expect(reason).toContain('e***@corp.example'); // the detail names the account, masked like every trace e-mail
    expect(reason).not.toContain('eve@');
    // With JIT off and a foreign domain the page used to say "no account yet": it names the domain rule too.
    const strictIdp = makeSamlIdp();
    const strict = await tenantWithSaml(app, strictIdp, { allowedDomains: ['corp.example'], jitEnabled: false });
    const foreign = await samlLogin(app, strict.t, strictIdp, strict.spMetadata, { nameId: 'x@attacker.test' });
    expect((await refusal(foreign.res)).reason).toMatch(/^domain_not_allowed:/);
  });

  it('names "another identifier at this same IdP" apart from "another sign-in method" when an account is already linked', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { allowedDomains: ['corp.example'] });
    const first = await samlLogin(app, t, idp, spMetadata, { nameId: 'okta-00u1', attributes: { email: ['fay@corp.example'] } });
    expect(first.res.status).toBe(303);
    // The IdP now sends another NameID for the same person (its NameID format changed).
    const again = await samlLogin(app, t, idp, spMetadata, { nameId: 'fay@corp.example', attributes: { email: ['fay@corp.example'] } });
    expect(again.res.status).toBe(403);
    const same = await refusal(again.res);
    expect(same.page).toContain('already linked to this identity provider under another user identifier');
    expect(same.page).not.toContain('linked to another sign-in method');
    expect(same.reason).toMatch(/^subject_changed: .*another subject of this connection/);
    // Control: through a second IdP of the tenant, the same account is "linked to another sign-in method".
    const other = makeSamlIdp();
    await addSecondSaml(t, { metadataXml: other.metadata(), allowedDomains: ['corp.example'] });
    const secondSp = await (await fetch(`${app.url}/t/${t.slug}/saml/metadata`)).text();
    const { res } = await idpInitiated(t, other, secondSp, 'entra-fay', { email: ['fay@corp.example'] });
    expect(res.status).toBe(403);
    const elsewhere = await refusal(res);
    expect(elsewhere.page).toContain('linked to another sign-in method');
    expect(elsewhere.reason).toMatch(/^link_refused:/);
    expect(await t.db.userIdentity.count()).toBe(1);
  });

  it("a second IdP without allowed domains cannot create, or rename its users to, the first IdP's domain (pre-account takeover)", async () => {
    const corp = makeSamlIdp();
    const contractor = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, corp, { allowedDomains: ['corp.example'], jitEnabled: true });
    await addSecondSaml(t, { metadataXml: contractor.metadata(), jitEnabled: true }); // defaults: no allowed domains
    // Before the victim exists here: neither as an e-mail nor as a subject-shaped userName.
    const attempts: [string, Record<string, string[]>][] = [['mallory', { email: ['victim@corp.example'] }], ['Victim@Corp.example', {}]];
    for (const [nameId, attributes] of attempts) {
      const { res, browser } = await idpInitiated(t, contractor, spMetadata, nameId, attributes);
      expect(res.status, nameId).toBe(403);
      expect((await refusal(res)).reason).toMatch(/^domain_not_allowed:/);
      expect((await me(browser, app.url, t.slug)).status).toBe(401);
    }
    expect(await t.db.user.count()).toBe(0);
    // Its own domain is its users' (and the first IdP's domain stays the first IdP's): a JIT user, then no rename.
    const own = await idpInitiated(t, contractor, spMetadata, 'mallory', { email: ['mallory@contractor.example'] });
    expect((await me(own.browser, app.url, t.slug)).body).toMatchObject({ email: 'mallory@contractor.example' });
    const renamed = await idpInitiated(t, contractor, spMetadata, 'mallory', { email: ['cfo@corp.example'] });
    expect(renamed.res.status).toBe(403);
    expect((await t.db.user.findFirstOrThrow({ where: { userNameKey: 'mallory@contractor.example' } })).email).toBe('mallory@contractor.example');
    // The first IdP still creates its own users.
    const victim = await idpInitiated(t, corp, spMetadata, 'corp-victim', { email: ['victim@corp.example'] });
    expect((await me(victim.browser, app.url, t.slug)).body).toMatchObject({ email: 'victim@corp.example' });
  });

  it("SSO never gives a user another user's e-mail: not by JIT creation, not by a JIT user's rename", async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { jitEnabled: true }); // no allowed domains, no other IdP
    const ceo = await t.db.user.create({ data: { id: 'usr_ceo_e1001', tenantId: t.id, userName: 'E1001', userNameKey: 'e1001', email: 'ceo@corp.example', source: 'scim' } });
    const created = await idpInitiated(t, idp, spMetadata, 'someone', { email: ['CEO@corp.example'] });
    expect(created.res.status).toBe(403);
    const { page, reason } = await refusal(created.res);
    expect(page).toContain('Another account of this organisation already has your e-mail address');
    expect(reason).toMatch(new RegExp(`^email_in_use: e-mail \\S+ belongs to user ${ceo.id}$`));
    const m3 = await idpInitiated(t, idp, spMetadata, 'm3', { email: ['m3@contractor.example'] });
    expect(m3.res.status).toBe(303);
    const moved = await idpInitiated(t, idp, spMetadata, 'm3', { email: ['ceo@corp.example'] });
    expect(moved.res.status).toBe(403);
    expect((await refusal(moved.res)).reason).toMatch(/^email_in_use:/);
    expect(await t.db.user.count({ where: { email: 'ceo@corp.example' } })).toBe(1);
    // Nor a userName: a user whose userName is an address keeps it to themselves.
    await t.db.user.create({ data: { id: 'usr_upn_cfo', tenantId: t.id, userName: 'cfo@corp.example', userNameKey: 'cfo@corp.example', source: 'scim' } });
    const asUpn = await idpInitiated(t, idp, spMetadata, 'm3', { email: ['cfo@corp.example'] });
    expect((await refusal(asUpn.res)).reason).toMatch(/^email_in_use: .* belongs to user usr_upn_cfo$/);
  });

  it('a refused login of a deactivated user writes nothing: no identity link, no profile change', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { allowedDomains: ['corp.example'], jitEnabled: true });
    // A deprovisioned SCIM user at a first login: refused, and not linked to the identity.
    const gone = await scimUser(t, 'gone@corp.example');
    await t.db.user.updateMany({ where: { id: gone.id }, data: { active: false } });
    const first = await idpInitiated(t, idp, spMetadata, 'gone-sub', { email: ['gone@corp.example'] });
    expect(first.res.status).toBe(403);
    expect((await refusal(first.res)).reason).toMatch(/^inactive:/);
    expect(await t.db.userIdentity.count({ where: { userId: gone.id } })).toBe(0);
    // A deactivated JIT user: the IdP's new e-mail and name are not taken at the refused login.
    const jit = await idpInitiated(t, idp, spMetadata, 'jit-sub', { email: ['jit@corp.example'] });
    expect(jit.res.status).toBe(303);
    const row = await t.db.user.findFirstOrThrow({ where: { email: 'jit@corp.example' } });
    await t.db.user.updateMany({ where: { id: row.id }, data: { active: false } });
    const again = await idpInitiated(t, idp, spMetadata, 'jit-sub', { email: ['renamed@corp.example'] });
    expect(again.res.status).toBe(403);
    expect((await t.db.user.findFirstOrThrow({ where: { id: row.id } })).email).toBe('jit@corp.example');
  });

  it('a SCIM token cannot be bound to a connection of another tenant', async () => {
    const a = await tenantWithSaml(app, makeSamlIdp(), { allowedDomains: ['corp.example'] });
    const b = await app.createTenant();
    await expect(createScimToken(b, app.url, 'x', String(a.conn.id))).rejects.toThrow(/No IdP connection/);
    expect(await b.db.scimToken.count()).toBe(0);
  });
});
