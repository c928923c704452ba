import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { ADMIN_IDLE_MS, REAUTH_WINDOW_MS } from '../../src/admin/http/admin-session.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { adminApi, createGroup, signIn } from './support.js';
import { makeSamlIdp } from '../sso/support/saml-idp.js';

/** The admin console's JSON API (issue 15): the gate, CSRF, re-authentication, idle timeout, audit, cross-tenant. */
describe.each(testDbKinds)('admin JSON API /t/{slug}/api/admin (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(async () => {
    await app?.close();
  });

  const auditRows = (t: TenantCtx, action: string) => t.db.auditEvent.findMany({ where: { action }, orderBy: { seq: 'asc' } });

  it('refuses without a session (401), a non-admin (403) and another tenant’s admin (401); admits `admin grant` and admin-group members', async () => {
    const t = await app.createTenant();
    const other = await app.createTenant();
    expect((await adminApi(app, t).get('/overview')).status).toBe(401);
    const user = await signIn(app, t);
    expect((await adminApi(app, t, user).get('/overview')).status).toBe(403);
    // Another tenant's admin: their cookie is for their tenant; renamed to ours, the token is unknown here.
    const foreign = await signIn(app, other, { admin: true });
    expect((await adminApi(app, other, foreign).get('/overview')).status).toBe(200);
    const renamed = { cookie: `${sessionCookieName(app.url, t)}=${foreign.token}`, csrf: foreign.csrf };
    expect((await adminApi(app, t, renamed).get('/overview')).status).toBe(401);
    expect((await adminApi(app, t, renamed).act('settings-update', { dynamicClientRegistration: false })).status).toBe(401);

    const admin = await signIn(app, t, { admin: true });
    const overview = await adminApi(app, t, admin).get('/overview');
    expect(overview.status).toBe(200);
    expect(overview.headers.get('cache-control')).toBe('no-store');
    expect(await overview.json()).toMatchObject({ alerts: [expect.objectContaining({ section: 'sso', severity: 'critical' })], users: { active: 2 } });

    // Membership of the tenant's admin group makes an admin; leaving the group ends it at once.
    const groupId = await createGroup(t, 'IT Admins', [user.userId]);
    const set = await adminApi(app, t, admin).act('settings-update', { adminGroup: 'IT Admins' });
    expect(set.status).toBe(200);
    expect((await adminApi(app, t, user).get('/overview')).status).toBe(200);
    await t.db.groupMembership.deleteMany({ where: { groupId } });
    expect((await adminApi(app, t, user).get('/overview')).status).toBe(403);
  }, 60_000);

  it('every state change needs the session’s CSRF token from our origin; refusals are audited', async () => {
    const t = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const api = adminApi(app, t, admin);
    const session = (await (await api.get('/session')).json()) as { csrfToken: string; user: { id: string } };
    expect(session.csrfToken).toBe(admin.csrf);
    expect(session.user.id).toBe(admin.userId);

    const noToken = await api.act('settings-update', { dynamicClientRegistration: 'off' }, { csrf: null });
    expect(noToken.status).toBe(403);
    expect(await noToken.json()).toMatchObject({ error: 'csrf' });
    const otherSession = await signIn(app, t, { admin: true });
    expect((await api.act('settings-update', { dynamicClientRegistration: 'off' }, { csrf: otherSession.csrf })).status).toBe(403);
    expect((await api.act('settings-update', { dynamicClientRegistration: 'off' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await findTenantBySlug(app.services.db, t.slug))!.settings.dynamicClientRegistration).toBe(true);
    const refused = await auditRows(t, 'admin.request.refused');
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({ actorKind: 'user', actorId: admin.userId, outcome: 'denied', detail: { reason: 'csrf: tenant.settings' } });

    const ok = await api.act('settings-update', { dynamicClientRegistration: 'off' }, { origin: app.url });
    expect(ok.status).toBe(200);
    expect((await findTenantBySlug(app.services.db, t.slug))!.settings.dynamicClientRegistration).toBe(false);
    expect(await auditRows(t, 'tenant.settings')).toEqual([expect.objectContaining({ actorKind: 'user', actorId: admin.userId, outcome: 'success', detail: { changed: ['dynamicClientRegistration'] } })]);

    // The same validation as the CLI; the failed attempt is audited too.
    const bad = await api.act('settings-update', { reconsentOnNewTools: 'maybe' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/on or off/);
    expect((await auditRows(t, 'tenant.settings')).at(-1)).toMatchObject({ outcome: 'failure' });
    expect((await api.act('no-such-action', {})).status).toBe(404);
  }, 60_000);

  it('a new SCIM token needs a fresh sign-in; the token is returned once and works; revoke ends it', async () => {
    const t = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const api = adminApi(app, t, admin);
    const created = await api.act('scim-token-create', { label: 'Okta' });
    expect(created.status).toBe(200);
    const token = (await created.json()) as { id: string; token: string; baseUrl: string };
    expect(token.baseUrl).toBe(`${app.url}/t/${t.slug}/scim/v2`);
    const scim = () => fetch(`${token.baseUrl}/Users`, { headers: { authorization: `Bearer ${token.token}` } });
    expect((await scim()).status).toBe(200);
    const listed = await (await api.get('/provisioning')).json();
    expect(JSON.stringify(listed)).not.toContain(token.token);
    expect(await auditRows(t, 'scim-token.create')).toEqual([expect.objectContaining({ actorKind: 'user', actorId: admin.userId, targetId: token.id, detail: { label: 'Okta', connectionId: null } })]);

    // Stale sign-in: still an admin (not idle), but sensitive actions ask for a fresh SSO; others still work.
    app.clock.advance(REAUTH_WINDOW_MS + 60_000);
    const stale = await api.act('scim-token-create', { label: 'again' });
    expect(stale.status).toBe(401);
    expect(await stale.json()).toMatchObject({ error: 'reauth_required', reauthUrl: expect.stringMatching(new RegExp(`^/t/${t.slug}/admin/reauth\\?return_to=`)) });
    expect(await t.db.scimToken.count()).toBe(1);
    const revoked = await api.act('scim-token-revoke', { id: token.id });
    expect(revoked.status).toBe(200);
    expect((await scim()).status).toBe(401);
  }, 60_000);

  it('a stale sign-in cannot change who administers, who signs in or how identities link; other edits still work', async () => {
    const t = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const insider = await signIn(app, t, { email: 'insider@corp.example' });
    const everyone = await createGroup(t, 'All Staff', [insider.userId]);
    const api = adminApi(app, t, admin);
    const idp = makeSamlIdp();
    const added = await api.act('idp-add-saml', { metadataXml: idp.metadata(), name: 'Okta SAML', allowedDomains: ['corp.example'], jitEnabled: false });
    expect(added.status).toBe(200);
    const { id } = (await added.json()) as { id: string };
    app.clock.advance(REAUTH_WINDOW_MS + 60_000);
    // Each of these widens access: refused until the admin signs in again, and nothing changes.
    for (const [action, input] of [
      ['settings-update', { adminGroup: everyone }],
      ['settings-update', { crossAppAccess: 'off', dynamicClientRegistration: 'off' }],
      ['settings-update', { provisioning: 'directory-sync' }],
      ['idp-update', { id, allowedDomains: [] }],
      ['idp-update', { id, matchBy: 'userName' }],
      ['idp-update', { id, jitEnabled: true }],
      ['idp-update', { id, idpInitiated: true }],
      ['idp-update', { id, mapping: { email: ['mail'] } }],
    ] as const) {
      const res = await api.act(action, input);
      expect(res.status, `${action} ${JSON.stringify(input)}`).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('reauth_required');
    }
    expect((await adminApi(app, t, insider).get('/session')).status).toBe(403);
    // The form sends every field: unchanged values, a rename, switching off and the other settings need no fresh sign-in.
    expect((await api.act('settings-update', { reconsentOnNewTools: 'on', crossAppAccess: 'on', provisioning: 'scim', adminGroup: '' })).status).toBe(200);
    expect((await api.act('idp-update', { id, name: 'Okta', jitEnabled: false, idpInitiated: false, allowedDomains: ['corp.example'] })).status).toBe(200);
    expect((await api.act('idp-update', { id, enabled: false })).status).toBe(200);
    expect((await api.act('idp-update', { id, enabled: true })).status).toBe(401);
  }, 60_000);

  it('ends an idle admin session: 401, and the session is gone for the other pages too', async () => {
    const t = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    expect((await adminApi(app, t, admin).get('/session')).status).toBe(200);
    app.clock.advance(ADMIN_IDLE_MS + 60_000);
    const idle = await adminApi(app, t, admin).get('/session');
    expect(idle.status).toBe(401);
    expect((await fetch(`${app.url}/t/${t.slug}/api/me`, { headers: { cookie: admin.cookie } })).status).toBe(401);
  }, 60_000);

  it('tools: approve for a group chosen in the picker, access matrix per tool and per user, revoke; another tenant’s group is refused', async () => {
    const t = await app.createTenant();
    const other = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const alice = await signIn(app, t, { email: 'alice@corp.example' });
    const eng = await createGroup(t, 'Engineering', [alice.userId]);
    const foreignGroup = await createGroup(other, 'Engineering');
    const api = adminApi(app, t, admin);

    const picker = (await (await api.get('/group-picker?q=eng')).json()) as { groups: { ref: string; name: string; source: string; members: number }[] };
    expect(picker.groups).toEqual([{ ref: eng, name: 'Engineering', source: 'manual', members: 1 }]);
    const catalog = (await (await api.get('/tools')).json()) as { tools: { name: string; approved: boolean; inputSchema: unknown }[] };
    // Built-in tools are in the catalog with their schemas.
    expect(catalog.tools.find((x) => x.name === 'whoami')).toMatchObject({ inputSchema: expect.objectContaining({ type: 'object' }) });

    expect((await api.act('tool-approve', { tool: 'whoami', groups: [foreignGroup] })).status).toBe(404);
    const approved = await api.act('tool-approve', { tool: 'whoami', groups: [eng] });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ access: 'groups', groups: ['Engineering'] });

    const perTool = await (await api.get('/access/tools/whoami')).json();
    expect(perTool).toMatchObject({ approved: true, everyone: false, groups: [{ displayName: 'Engineering', users: [{ id: alice.userId }] }] });
    const perUser = await (await api.get(`/access/users/${alice.userId}`)).json();
    expect(perUser).toMatchObject({ tools: [{ name: 'whoami', via: ['Engineering'] }], groups: [{ displayName: 'Engineering' }], sessions: 1 });
    // A user of another tenant is not found through this tenant's API.
    const stranger = await signIn(app, other);
    expect((await api.get(`/access/users/${stranger.userId}`)).status).toBe(404);

    expect((await api.act('tool-revoke', { tool: 'whoami' })).status).toBe(200);
    expect(await (await api.get('/access/tools/whoami')).json()).toMatchObject({ approved: false });
    expect((await auditRows(t, 'tool.approve')).map((r) => r.outcome)).toEqual(['failure', 'success']);
  }, 60_000);

  it('revoke everything for a user ends their sessions (sensitive: fresh sign-in); a user of another tenant cannot be targeted', async () => {
    const t = await app.createTenant();
    const other = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const bob = await signIn(app, t);
    const stranger = await signIn(app, other);
    const api = adminApi(app, t, admin);
    expect((await api.act('user-revoke-all', { userId: stranger.userId })).status).toBe(404);
    expect((await fetch(`${app.url}/t/${other.slug}/api/me`, { headers: { cookie: stranger.cookie } })).status).toBe(200);
    const res = await api.act('user-revoke-all', { userId: bob.userId });
    expect(res.status).toBe(200);
    expect((await fetch(`${app.url}/t/${t.slug}/api/me`, { headers: { cookie: bob.cookie } })).status).toBe(401);
    expect((await auditRows(t, 'access.user.revoke-all')).map((r) => [r.outcome, r.targetId])).toEqual([['failure', null], ['success', bob.userId]]);
    // Sensitive: with a stale sign-in it is refused and nothing ends.
    const carol = await signIn(app, t);
    app.clock.advance(REAUTH_WINDOW_MS + 60_000);
    expect((await adminApi(app, t, admin).act('user-revoke-all', { userId: carol.userId })).status).toBe(401);
    expect((await fetch(`${app.url}/t/${t.slug}/api/me`, { headers: { cookie: carol.cookie } })).status).toBe(200);
  }, 60_000);

  it('SSO: our SP values, a SAML IdP added from metadata XML with its certificate expiry; never a server file path', async () => {
    const t = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const api = adminApi(app, t, admin);
    const hostile = await api.act('idp-add-saml', { metadataFile: '/etc/passwd' });
    expect(hostile.status).toBe(400);
    expect(await t.db.idpConnection.count()).toBe(0);
    const idp = makeSamlIdp();
    const added = await api.act('idp-add-saml', { metadataXml: idp.metadata(), name: 'Okta SAML', allowedDomains: ['corp.example'], jitEnabled: false });
    expect(added.status).toBe(200);
    const sso = (await (await api.get('/sso')).json()) as { sp: Record<string, string>; connections: { name: string; kind: string }[]; certificates: { owner: { kind: string }; daysLeft: number }[] };
    expect(sso.sp).toMatchObject({ acsUrl: `${app.url}/t/${t.slug}/saml/acs`, entityId: `${app.url}/t/${t.slug}/saml/metadata` });
    expect(sso.connections).toEqual([expect.objectContaining({ name: 'Okta SAML', kind: 'saml' })]);
    expect(sso.certificates.find((c) => c.owner.kind === 'idp')?.daysLeft).toBeGreaterThan(0);
    expect(await auditRows(t, 'idp.add')).toEqual([expect.objectContaining({ outcome: 'failure' }), expect.objectContaining({ outcome: 'success', actorId: admin.userId, detail: { kind: 'saml', metadataUrl: null } })]);
  }, 60_000);
});
