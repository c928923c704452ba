import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../src/revocation/event-bus.js';
import { isTenantAdmin } from '../../src/sso/admin/tenant-admins.js';
import { syncIdpGroups } from '../../src/sso/users/sync-idp-groups.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { cli } from '../mcp/support.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ENTERPRISE, ERROR, GROUP, USER, scimTenant, type ScimReply, type ScimTenant } from './scim-client.js';

const invalidValue = (r: ScimReply, attribute: string) => {
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ schemas: [ERROR], status: '400', scimType: 'invalidValue' });
  expect(r.body.detail).toContain(attribute);
};

const memberIdsOf = async (s: ScimTenant, groupId: string) =>
  (((await s.call('GET', `/Groups/${groupId}`)).body.members ?? []) as { value: string }[]).map((m) => m.value).sort();

const auditOf = (s: ScimTenant, groupId: string) => s.t.db.auditEvent.findMany({ where: { targetId: groupId }, orderBy: { createdAt: 'asc' } });

describe.each(testDbKinds)('SCIM groups as Okta and Entra behave (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('applies the known members and skips (and audits) unknown ids in POST, PATCH add/replace and PUT', async () => {
    const s = await scimTenant(app);
    const a = await s.createUser('a@example.com');
    const b = await s.createUser('b@example.com');
    const gone = 'usr_deletedoutofband';
    const post = await s.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Eng', members: [{ value: a.id }, { value: gone }] });
    expect(post.status).toBe(201);
    expect(post.body.members.map((m: { value: string }) => m.value)).toEqual([a.id]);
    const gid = String(post.body.id);
    // Entra's multi-member Add with one id that no longer exists: 204, the valid member is added.
    const add = await s.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'usr_nope1' }, { $ref: null, value: b.id }] }]);
    expect(add.status).toBe(204);
    expect(await memberIdsOf(s, gid)).toEqual([a.id, b.id].sort());
    // A rename alongside an unknown member still renames.
    const both = await s.patch(`/Groups/${gid}`, [
      { op: 'replace', path: 'displayName', value: 'Engineering' },
      { op: 'add', path: 'members', value: [{ value: 'usr_nope2' }] },
    ]);
    expect(both.status).toBe(204);
    expect((await s.call('GET', `/Groups/${gid}`)).body.displayName).toBe('Engineering');
    const replace = await s.patch(`/Groups/${gid}`, [{ op: 'replace', path: 'members', value: [{ value: b.id }, { value: 'usr_nope3' }] }]);
    expect(replace.status).toBe(204);
    expect(await memberIdsOf(s, gid)).toEqual([b.id]);
    const put = await s.call('PUT', `/Groups/${gid}`, { schemas: [GROUP], displayName: 'Engineering', members: [{ value: 'usr_nope4' }, { value: a.id }] });
    expect(put.status).toBe(200);
    expect(put.body.members.map((m: { value: string }) => m.value)).toEqual([a.id]);
    // Only unknown ids, nothing else: still a success, still audited.
    expect((await s.patch(`/Groups/${gid}`, [{ op: 'add', path: 'members', value: [{ value: 'usr_nope5' }] }])).status).toBe(204);
    // A malformed member is still a client error, not something to skip.
    invalidValue(await s.patch(`/Groups/${gid}`, [{ op: 'add', path: 'members', value: [{ display: 'no value' }] }]), 'value');
    await app.services.audit.flush();
    const events = await auditOf(s, gid);
    // (the manual clock stands still: events are compared as a set)
    const skipped = events.map((e) => (e.detail as { skippedIds?: string[] }).skippedIds ?? []);
    expect(skipped.flat().sort()).toEqual([gone, 'usr_nope1', 'usr_nope2', 'usr_nope3', 'usr_nope4', 'usr_nope5'].sort());
    expect(events.filter((e) => (e.detail as { membersSkipped?: number }).membersSkipped === 1)).toHaveLength(6);
  });

  it('accepts duplicate displayNames (no 409) and lists both under displayName eq', async () => {
    const s = await scimTenant(app);
    const one = await s.createGroup('Sales');
    const two = await s.call('POST', '/Groups', { schemas: [GROUP], displayName: 'sales' });
    expect(two.status).toBe(201);
    expect(two.body.id).not.toBe(one.id);
    const renamed = await s.createGroup('Marketing');
    expect((await s.patch(`/Groups/${renamed.id}`, [{ op: 'replace', path: 'displayName', value: 'Sales' }])).status).toBe(204);
    const list = (await s.call('GET', `/Groups?filter=${encodeURIComponent('displayName eq "SALES"')}`)).body;
    expect(list.totalResults).toBe(3);
    const schema = (await s.call('GET', `/Schemas/${GROUP}`)).body;
    expect(schema.attributes.find((a: { name: string }) => a.name === 'displayName').uniqueness).toBe('none');
  });

  it('tool approval and the admin group take a group id and refuse an ambiguous name listing the candidates', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('admin@example.com');
    const g1 = await s.createGroup('Ops', [u.id]);
    const g2 = await s.createGroup('OPS');
    const approve = (group: string[]) => cli(app, 'tool approve', { tenant: s.t.slug, tool: 'whoami', group });
    const ambiguous = approve(['ops']);
    await expect(ambiguous).rejects.toThrow(/ambiguous/);
    await expect(ambiguous).rejects.toThrow(new RegExp(`${g1.id}.*${g2.id}|${g2.id}.*${g1.id}`));
    await expect(approve(['Nobody'])).rejects.toThrow(/No group with id or name "Nobody"/);
    expect(await approve([g1.id])).toMatchObject({ access: 'groups', groups: ['Ops'] });
    expect(await s.t.db.toolGrant.findMany({ select: { groupId: true } })).toEqual([{ groupId: g1.id }]);
    // Another tenant's group id is unknown here.
    const other = await scimTenant(app);
    const foreign = await other.createGroup('Foreign');
    await expect(approve([foreign.id])).rejects.toThrow(/No group with id or name/);
    expect(await other.t.db.toolGrant.count()).toBe(0);

    const settings = (adminGroup: string) => cli(app, 'tenant settings', { tenant: s.t.slug, 'admin-group': adminGroup });
    await expect(settings('ops')).rejects.toThrow(new RegExp(`ambiguous.*${g1.id}`));
    await settings(g1.id);
    const fresh = async () => (await findTenantBySlug(app.services.db, s.t.slug))!;
    expect(await isTenantAdmin(await fresh(), u.id)).toBe(true);
    // A name stored before it became ambiguous makes nobody an admin through the group (fail closed).
    await app.services.db.tenant.update({ where: { id: s.t.id }, data: { settings: { adminGroup: 'ops' } } });
    expect(await isTenantAdmin(await fresh(), u.id)).toBe(false);
    // A name that is not (yet) a group is kept: the IdP may provision it later.
    await expect(settings('Future Admins')).resolves.toMatchObject({ settings: { adminGroup: 'Future Admins' } });
    // The other tenant's group id does not make anyone an admin here.
    await app.services.db.tenant.update({ where: { id: s.t.id }, data: { settings: { adminGroup: foreign.id } } });
    expect(await isTenantAdmin(await fresh(), u.id)).toBe(false);
  });

  it('keeps groups asserted at SSO login and groups pushed by SCIM apart, even with the same name', async () => {
    const s = await scimTenant(app);
    const scimUser = await s.createUser('pushed@example.com');
    const ssoUser = await s.createUser('asserted@example.com');
    const pushed = await s.createGroup('Finance', [scimUser.id]);
    // A login asserts "Finance": the IdP's own group, not the SCIM one.
    expect(await syncIdpGroups(s.t, ssoUser.id, ['Finance'], true)).toBe(true);
    const idpGroup = await s.t.db.group.findFirstOrThrow({ where: { source: 'idp' } });
    expect(idpGroup.id).not.toBe(pushed.id);
    expect(await memberIdsOf(s, pushed.id)).toEqual([scimUser.id]);
    // SCIM neither sees nor writes the IdP's group.
    expect((await s.call('GET', `/Groups/${idpGroup.id}`)).status).toBe(404);
    expect((await s.patch(`/Groups/${idpGroup.id}`, [{ op: 'replace', path: 'members', value: [] }])).status).toBe(404);
    expect((await s.call('DELETE', `/Groups/${idpGroup.id}`)).status).toBe(404);
    const listed = (await s.call('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Finance"')}`)).body;
    expect(listed.Resources.map((g: { id: string }) => g.id)).toEqual([pushed.id]);
    expect((await s.call('GET', `/Users/${ssoUser.id}`)).body.groups).toBeUndefined();
    // Adding the IdP group's id as a member is not nesting it: skipped silently.
    expect((await s.patch(`/Groups/${pushed.id}`, [{ op: 'replace', path: 'members', value: [{ value: scimUser.id }, { value: ssoUser.id }, { value: idpGroup.id }] }])).status).toBe(204);
    // A later login without "Finance" leaves the IdP group only; SCIM's membership of the same user stays.
    expect(await syncIdpGroups(s.t, ssoUser.id, [], true)).toBe(true);
    expect(await memberIdsOf(s, pushed.id)).toEqual([scimUser.id, ssoUser.id].sort());
    expect(await s.t.db.groupMembership.count({ where: { groupId: idpGroup.id } })).toBe(0);
    // Two logins asserting the same name share one IdP group.
    await syncIdpGroups(s.t, ssoUser.id, ['finance'], true);
    await syncIdpGroups(s.t, scimUser.id, ['FINANCE'], true);
    expect(await s.t.db.group.count({ where: { source: 'idp' } })).toBe(1);
  });

  it('bounds every stored string attribute with 400 invalidValue naming it', async () => {
    const s = await scimTenant(app);
    const mb = 'x'.repeat(1_200_000);
    invalidValue(await s.call('POST', '/Users', { schemas: [USER], userName: 'big@example.com', displayName: mb }), 'displayName');
    invalidValue(await s.call('POST', '/Groups', { schemas: [GROUP], displayName: mb }), 'displayName');
    invalidValue(await s.call('POST', '/Groups', { schemas: [GROUP], displayName: 'g'.repeat(257) }), 'displayName');
    invalidValue(await s.call('POST', '/Users', { schemas: [USER], userName: 'u'.repeat(257) }), 'userName');
    invalidValue(await s.call('POST', '/Users', { schemas: [USER], userName: 'e@example.com', externalId: 'e'.repeat(257) }), 'externalId');
    invalidValue(await s.call('POST', '/Users', { schemas: [USER], userName: 'n@example.com', name: { givenName: 'n'.repeat(2049) } }), 'name.givenName');
    invalidValue(await s.call('POST', '/Users', { schemas: [USER], userName: 'm@example.com', emails: [{ value: `${'m'.repeat(2049)}@x.com` }] }), 'emails.value');
    invalidValue(
      await s.call('POST', '/Users', { schemas: [USER], userName: 'many@example.com', emails: Array.from({ length: 101 }, (_, i) => ({ value: `e${i}@x.com` })) }),
      'emails',
    );
    invalidValue(await s.call('POST', '/Users', { schemas: [USER, ENTERPRISE], userName: 'd@example.com', [ENTERPRISE]: { department: 'd'.repeat(2049) } }), 'department');
    const custom = 'urn:example:params:scim:schemas:extension:acme:2.0:User';
    invalidValue(await s.call('POST', '/Users', { schemas: [USER, custom], userName: 'c@example.com', [custom]: { blob: 'c'.repeat(20_000) } }), custom);
    // Many undescribed extensions, each under the limit, are bounded together (POST and PATCH).
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${custom}${i}`, { blob: 'c'.repeat(1_000) }]));
    invalidValue(await s.call('POST', '/Users', { schemas: [USER, ...Object.keys(many)], userName: 'c@example.com', ...many }), "with the other extensions we do not describe");
    invalidValue(await s.call('POST', '/Groups', { schemas: [GROUP], displayName: 'ok', members: [{ value: 'v'.repeat(300) }] }), 'members.value');
    // Through PATCH (path and path-less) and PUT as well.
    const u = await s.createUser('fine@example.com', { title: 't'.repeat(2048) });
    invalidValue(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'nickName', value: 'k'.repeat(2049) }]), 'nickName');
    invalidValue(await s.patch(`/Users/${u.id}`, [{ op: 'replace', value: { 'name.familyName': 'f'.repeat(2049) } }]), 'name.familyName');
    invalidValue(await s.call('PUT', `/Users/${u.id}`, { schemas: [USER], userName: 'fine@example.com', title: 't'.repeat(2049) }), 'title');
    invalidValue(await s.patch(`/Users/${u.id}`, Object.entries(many).map(([path, value]) => ({ op: 'add', path, value }))), "with the other extensions we do not describe");
    const g = await s.createGroup('Bounded');
    invalidValue(await s.patch(`/Groups/${g.id}`, [{ op: 'replace', path: 'displayName', value: 'g'.repeat(257) }]), 'displayName');
    // Nothing of the refused writes was stored.
    expect((await s.call('GET', `/Users/${u.id}`)).body.nickName).toBeUndefined();
    expect(await s.t.db.user.count()).toBe(1);
  });

  it('sends one bus notification per group change set, naming the users when they fit', async () => {
    const s = await scimTenant(app);
    const now = app.clock.now();
    const ids = Array.from({ length: 300 }, (_, i) => `usr_bus${String(i).padStart(4, '0')}`);
    await s.t.db.user.createMany({ data: ids.map((id) => ({ id, tenantId: s.t.id, userName: `${id}@x.com`, userNameKey: `${id}@x.com`, createdAt: now, updatedAt: now })) });
    const heard: BusEvent[] = [];
    const unsubscribe = app.services.bus.subscribe((e) => {
      if (e.tenantId === s.t.id) heard.push(e);
    });
    const g = await s.createGroup('Bus', ids.slice(0, 3));
    expect(heard).toEqual([{ type: 'members.changed', tenantId: s.t.id, userIds: ids.slice(0, 3) }]);
    heard.length = 0;
    expect((await s.patch(`/Groups/${g.id}`, [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }, { op: 'remove', path: `members[value eq "${ids[0]}"]` }])).status).toBe(204);
    unsubscribe();
    // 297 added + 1 removed in one change set: one event; too many ids for a NOTIFY payload → "any user".
    expect(heard).toEqual([{ type: 'members.changed', tenantId: s.t.id, userIds: null }]);
  });
});
