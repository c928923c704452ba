import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ENTERPRISE, ERROR, GROUP, USER, scimTenant } from './scim-client.js';

const CUSTOM = 'urn:example:params:scim:schemas:extension:acme:2.0:User';

describe.each(testDbKinds)('SCIM Users and Groups semantics (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('creates a user with 201 and the full resource; never stores the password; ignores groups and meta', async () => {
    const s = await scimTenant(app);
    const res = await s.call('POST', '/Users', {
      schemas: [USER, ENTERPRISE, CUSTOM],
      userName: 'Ann@Example.com',
      name: { givenName: 'Ann', familyName: 'Lee' },
      emails: [{ primary: true, value: 'Ann@Example.com', type: 'work' }],
      password: 'Secret-Placeholder-1',
      groups: [{ value: 'grp_fake' }],
      meta: { resourceType: 'User', created: '2001-01-01T00:00:00Z' },
      id: 'usr_chosen_by_client',
      [ENTERPRISE]: { department: 'R&D', manager: 'usr_boss' },
      [CUSTOM]: { badge: 'B-7', floors: [1, 2] },
    });
    expect(res.status).toBe(201);
    const u = res.body;
    expect(u.id).toMatch(/^usr_/);
    expect(u.id).not.toBe('usr_chosen_by_client');
    expect(u).toMatchObject({ userName: 'Ann@Example.com', active: true, name: { givenName: 'Ann' } });
    expect(u[ENTERPRISE]).toEqual({ department: 'R&D', manager: { value: 'usr_boss' } });
    expect(u[CUSTOM]).toEqual({ badge: 'B-7', floors: [1, 2] });
    expect(u.schemas).toEqual(expect.arrayContaining([USER, ENTERPRISE, CUSTOM]));
    expect(u.password).toBeUndefined();
    expect(u.groups).toBeUndefined();
    expect(u.meta).toMatchObject({ resourceType: 'User', location: `${s.base}/Users/${u.id}`, version: 'W/"1"' });
    expect(u.meta.created).not.toContain('2001');
    const row = await s.t.db.user.findUnique({ where: { id: u.id } });
    expect(JSON.stringify(row)).not.toContain('Secret-Placeholder-1');
    expect(row).toMatchObject({ userNameKey: 'ann@example.com', email: 'ann@example.com', source: 'scim' });
    const audit = await s.t.db.auditEvent.findMany({ where: { action: 'scim.user.create', targetId: u.id } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorKind: 'scim-token', actorId: s.tokenId, outcome: 'success' });
    expect((audit[0]!.detail as { changed: string[] }).changed).toEqual(expect.arrayContaining(['userName', 'emails', `${ENTERPRISE}:department`]));
    expect(JSON.stringify(audit[0])).not.toMatch(/Secret-Placeholder|password/i);
  });

  it('refuses a user without userName (400 invalidValue) and a case-insensitive duplicate (409 uniqueness)', async () => {
    const s = await scimTenant(app);
    const missing = await s.call('POST', '/Users', { schemas: [USER], name: { givenName: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ schemas: [ERROR], status: '400', scimType: 'invalidValue' });
    await s.createUser('dup@example.com');
    const dup = await s.call('POST', '/Users', { schemas: [USER], userName: 'DUP@example.COM' });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
    const other = await s.createUser('other@example.com');
    const rename = await s.patch(`/Users/${other.id}`, [{ op: 'replace', path: 'userName', value: 'Dup@Example.com' }]);
    expect(rename.status).toBe(409);
    expect(rename.body.scimType).toBe('uniqueness');
    // Another tenant may use the same userName.
    expect((await (await scimTenant(app)).call('POST', '/Users', { schemas: [USER], userName: 'dup@example.com' })).status).toBe(201);
  });

  it('answers concurrent duplicate creates with exactly one 201', async () => {
    const s = await scimTenant(app);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.call('POST', '/Users', { schemas: [USER], userName: i % 2 ? 'race@x.com' : 'RACE@x.com' })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
  });

  it('PUT replaces the whole user; read-only attributes are ignored; unknown ids → 404', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('put@example.com', { nickName: 'Putty', title: 'Dev', externalId: 'okta-1' });
    const res = await s.call('PUT', `/Users/${u.id}`, { schemas: [USER], id: 'other', userName: 'put@example.com', title: 'Lead', active: true });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(u.id);
    expect(res.body.title).toBe('Lead');
    expect(res.body.nickName).toBeUndefined();
    expect(res.body.externalId).toBeUndefined();
    expect(res.body.meta.version).toBe('W/"2"');
    expect((await s.call('PUT', '/Users/usr_nope', { schemas: [USER], userName: 'x' })).status).toBe(404);
    const missing = await s.call('GET', '/Users/usr_nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ schemas: [ERROR], status: '404' });
  });

  it('honours If-Match (meta.version) on writes with 412 when stale', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('etag@example.com');
    const stale = await s.call('PUT', `/Users/${u.id}`, { schemas: [USER], userName: 'etag@example.com' }, { 'if-match': 'W/"9"' });
    expect(stale.status).toBe(412);
    const ok = await s.call('PUT', `/Users/${u.id}`, { schemas: [USER], userName: 'etag@example.com', title: 'x' }, { 'if-match': 'W/"1"' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('W/"2"');
  });

  it('patches users and groups created outside SCIM (empty stored document)', async () => {
    const s = await scimTenant(app);
    await s.t.db.user.create({ data: { id: 'usr_jit1', tenantId: s.t.id, userName: 'Jit@Example.com', userNameKey: 'jit@example.com', source: 'jit' } });
    await s.t.db.group.create({ data: { id: 'grp_manual1', tenantId: s.t.id, displayName: 'Manual', displayNameKey: 'manual' } });
    const got = (await s.call('GET', '/Users/usr_jit1')).body;
    expect(got).toMatchObject({ id: 'usr_jit1', userName: 'Jit@Example.com', active: true });
    const res = await s.patch('/Users/usr_jit1', [{ op: 'add', path: 'title', value: 'Ops' }]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userName: 'Jit@Example.com', title: 'Ops', active: true });
    expect((await s.patch('/Groups/grp_manual1', [{ op: 'add', path: 'members', value: [{ value: 'usr_jit1' }] }])).status).toBe(204);
    expect((await s.call('GET', '/Groups/grp_manual1')).body).toMatchObject({ displayName: 'Manual', members: [{ value: 'usr_jit1' }] });
  });

  it('creates the element when Entra replaces emails[type eq "work"].value on a user without one', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('noemail@example.com');
    const res = await s.patch(`/Users/${u.id}`, [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'w@example.com' }]);
    expect(res.status).toBe(200);
    expect(res.body.emails).toEqual([{ type: 'work', value: 'w@example.com' }]);
    expect((await s.t.db.user.findUnique({ where: { id: u.id } }))?.email).toBe('w@example.com');
  });

  it('DELETE hard-deletes (204, then 404) and keeps the audit trail', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('gone@example.com');
    expect((await s.call('DELETE', `/Users/${u.id}`)).status).toBe(204);
    expect((await s.call('GET', `/Users/${u.id}`)).status).toBe(404);
    expect((await s.call('DELETE', `/Users/${u.id}`)).status).toBe(404);
    const events = await s.t.db.auditEvent.findMany({ where: { targetId: u.id }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['scim.user.create', 'user.revoke', 'scim.user.delete']));
  });

  it('keeps inactive users readable and filterable', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('sleepy@example.com');
    await s.patch(`/Users/${u.id}`, [{ op: 'replace', value: { active: false } }]);
    expect((await s.call('GET', `/Users/${u.id}`)).body.active).toBe(false);
    const list = await s.call('GET', `/Users?filter=${encodeURIComponent('active eq false')}`);
    expect(list.body.Resources.map((r: { id: string }) => r.id)).toEqual([u.id]);
  });

  it('honours attributes and excludedAttributes on GET and list', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('proj@example.com', { name: { givenName: 'P', familyName: 'Q' }, title: 'T', [ENTERPRISE]: { department: 'D', costCenter: 'C' } });
    const only = (await s.call('GET', `/Users/${u.id}?attributes=userName,name.givenName,${ENTERPRISE}:department`)).body;
    expect(only).toEqual({ schemas: expect.any(Array), id: u.id, userName: 'proj@example.com', name: { givenName: 'P' }, [ENTERPRISE]: { department: 'D' } });
    const without = (await s.call('GET', `/Users/${u.id}?excludedAttributes=title,name,meta`)).body;
    expect(without.title).toBeUndefined();
    expect(without.name).toBeUndefined();
    expect(without.meta).toBeUndefined();
    expect(without.userName).toBe('proj@example.com');
    const listed = (await s.call('GET', '/Users?attributes=userName')).body.Resources[0];
    expect(Object.keys(listed).sort()).toEqual(['id', 'schemas', 'userName']);
  });

  it('paginates with stable order, integer fields, count=0 and a capped page size', async () => {
    const s = await scimTenant(app);
    const now = app.clock.now();
    await s.t.db.user.createMany({
      data: Array.from({ length: 520 }, (_, i) => ({ id: `usr_p${String(i).padStart(4, '0')}`, tenantId: s.t.id, userName: `p${i}@x.com`, userNameKey: `p${i}@x.com`, createdAt: now, updatedAt: now })),
    });
    const seen: string[] = [];
    for (let start = 1; start <= 520; start += 100) {
      const page = (await s.call('GET', `/Users?startIndex=${start}&count=100`)).body;
      expect(page).toMatchObject({ totalResults: 520, startIndex: start });
      expect(page.itemsPerPage).toBe(page.Resources.length);
      seen.push(...page.Resources.map((r: { id: string }) => r.id));
    }
    expect(new Set(seen).size).toBe(520);
    expect(seen).toEqual([...seen].sort());
    const zero = (await s.call('GET', '/Users?count=0')).body;
    expect(zero).toMatchObject({ totalResults: 520, itemsPerPage: 0, Resources: [] });
    const capped = (await s.call('GET', '/Users?count=100000')).body;
    expect(capped.itemsPerPage).toBe(500);
    const past = (await s.call('GET', '/Users?startIndex=1000')).body;
    expect(past).toMatchObject({ totalResults: 520, itemsPerPage: 0, startIndex: 1000 });
    const bad = await s.call('GET', '/Users?count=ten');
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidValue');
  });

  it('groups: create with members, excludedAttributes=members, read-only user.groups', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('member@example.com', { displayName: 'Mem Ber' });
    const g = await s.createGroup('Admins', [u.id]);
    expect(g.members).toEqual([{ value: u.id, $ref: `${s.base}/Users/${u.id}`, display: 'Mem Ber', type: 'User' }]);
    const slim = (await s.call('GET', `/Groups/${g.id}?excludedAttributes=members`)).body;
    expect(slim.members).toBeUndefined();
    expect(slim.displayName).toBe('Admins');
    const list = (await s.call('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "ADMINS"')}`)).body;
    expect(list.Resources).toHaveLength(1);
    expect(list.Resources[0].members).toBeUndefined();
    const user = (await s.call('GET', `/Users/${u.id}`)).body;
    expect(user.groups).toEqual([{ value: g.id, $ref: `${s.base}/Groups/${g.id}`, display: 'Admins', type: 'direct' }]);
    const ro = await s.patch(`/Users/${u.id}`, [{ op: 'add', path: 'groups', value: [{ value: g.id }] }]);
    expect(ro.status).toBe(400);
    expect(ro.body.scimType).toBe('mutability');
    const put = await s.call('PUT', `/Groups/${g.id}`, { schemas: [GROUP], displayName: 'Admins 2', members: [] });
    expect(put.status).toBe(200);
    expect(put.body.members).toEqual([]);
    expect((await s.call('DELETE', `/Groups/${g.id}`)).status).toBe(204);
    expect((await s.call('GET', `/Groups/${g.id}`)).status).toBe(404);
  });
});
