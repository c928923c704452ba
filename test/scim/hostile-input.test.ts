import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ERROR, PATCH_OP, USER, scimTenant, type ScimReply } from './scim-client.js';

const isScimError = (r: ScimReply, status: number, scimType?: string) => {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(r.body).toMatchObject({ schemas: [ERROR], status: String(status), ...(scimType ? { scimType } : {}) });
  expect(JSON.stringify(r.body)).not.toMatch(/at .*\.(js|ts):\d+|Prisma|SELECT/);
};

describe.each(testDbKinds)('SCIM refuses hostile input cleanly (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('malformed, non-object, mistyped and oversized bodies', async () => {
    const s = await scimTenant(app);
    isScimError(await s.call('POST', '/Users', '{"userName": '), 400, 'invalidSyntax');
    isScimError(await s.call('POST', '/Users', '[1,2]'), 400, 'invalidSyntax');
    isScimError(await s.call('POST', '/Users', '"x"'), 400, 'invalidSyntax');
    isScimError(await s.call('POST', '/Users', 'userName=x', { 'content-type': 'text/plain' }), 400, 'invalidSyntax');
    isScimError(await s.call('POST', '/Users', { schemas: [USER], userName: 42 }), 400, 'invalidValue');
    isScimError(await s.call('POST', '/Users', { schemas: [USER], userName: 'x', emails: 'nope' }), 400, 'invalidValue');
    isScimError(await s.call('POST', '/Users', { schemas: [USER], userName: 'x', active: 'maybe' }), 400, 'invalidValue');
    isScimError(await s.call('POST', '/Users', JSON.stringify({ userName: 'big', pad: 'x'.repeat(5 * 1024 * 1024) })), 413);
  });

  it('a lone UTF-16 surrogate in a body is malformed JSON text (400), wherever it is; an escaped pair is text', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('surrogate@example.com');
    const lone = ['"x\\ud800"', '"\\udfff"', '"a\\ud83d b"'];
    for (const v of lone) {
      isScimError(await s.call('POST', '/Users', `{"schemas":["${USER}"],"userName":"n@example.com","displayName":${v}}`), 400, 'invalidSyntax');
      isScimError(await s.call('POST', '/Users', `{"schemas":["${USER}"],"userName":"n@example.com","urn:x:ext":{${v}:"v"}}`), 400, 'invalidSyntax');
      isScimError(await s.call('POST', '/Groups', `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":${v}}`), 400, 'invalidSyntax');
      isScimError(await s.call('PATCH', `/Users/${u.id}`, `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"replace","path":"displayName","value":${v}}]}`), 400, 'invalidSyntax');
      isScimError(await s.call('PUT', `/Users/${u.id}`, `{"schemas":["${USER}"],"userName":"surrogate@example.com","nickName":${v}}`), 400, 'invalidSyntax');
    }
    const pair = await s.call('POST', '/Users', `{"schemas":["${USER}"],"userName":"pair@example.com","displayName":"Ada \\ud83d\\ude00"}`);
    expect(pair.status).toBe(201);
    expect(pair.body.displayName).toBe('Ada 😀');
  });

  it('turns an unexpected failure into a 500 SCIM error carrying only a trace id', async () => {
    const s = await scimTenant(app);
    const spy = vi.spyOn(app.services.audit, 'rowOf').mockImplementationOnce(() => {
      throw new Error('disk exploded at /var/secret/path');
    });
    try {
      const res = await s.call('POST', '/Users', { schemas: [USER], userName: 'boom@example.com' }, { 'x-request-id': 'trace-scim-500' });
      isScimError(res, 500);
      expect(res.body.detail).toBe('Internal error (trace id trace-scim-500)');
      expect(JSON.stringify(res.body)).not.toMatch(/exploded|secret/);
    } finally {
      spy.mockRestore();
    }
  });

  it('filter injection attempts match nothing and break nothing', async () => {
    const s = await scimTenant(app);
    await s.createUser('victim@example.com');
    for (const filter of [
      'userName eq "x\\" or 1=1"',
      'userName eq "x\' OR \'1\'=\'1"',
      'userName eq "x\\"); DROP TABLE \\"User\\"; --"',
      'userName co "%"',
      'userName sw "_"',
      'emails[value eq "x\\" or \\"1\\"=\\"1"]',
    ]) {
      const res = await s.call('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(res.status, filter).toBe(200);
      expect(res.body.totalResults, filter).toBe(0);
    }
    isScimError(await s.call('GET', `/Users?filter=${encodeURIComponent('userName eq "x" or 1=1')}`), 400, 'invalidFilter');
    isScimError(await s.call('GET', `/Users?filter=${encodeURIComponent('userName eq "x"; DROP TABLE "User"')}`), 400, 'invalidFilter');
    isScimError(await s.call('GET', `/Users?filter=${encodeURIComponent('"User"."tenantId" pr')}`), 400, 'invalidFilter');
    isScimError(await s.call('GET', `/Users?filter=${encodeURIComponent('attributes pr')}`), 400, 'invalidFilter');
    isScimError(await s.call('GET', `/Users?filter=${encodeURIComponent('userName eq "x"')}&filter=x`), 400, 'invalidFilter');
    expect((await s.call('GET', '/Users')).body.totalResults).toBe(1);
  });

  it('unknown attributes in PATCH paths, bad ops and bad values', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('p@example.com');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'nosuch', value: 'x' }]), 400, 'invalidPath');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'name.nosuch', value: 'x' }]), 400, 'invalidPath');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'emails[type eq "work"].nosuch', value: 'x' }]), 400, 'invalidPath');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'emails[type eq ', value: 'x' }]), 400);
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'id', value: 'usr_mine' }]), 400, 'mutability');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'meta.created', value: 'x' }]), 400, 'mutability');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'copy', path: 'userName', value: 'x' }]), 400, 'invalidSyntax');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: 'perhaps' }]), 400, 'invalidValue');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'userName', value: '' }]), 400, 'invalidValue');
    isScimError(await s.patch(`/Users/${u.id}`, [{ op: 'remove' }]), 400, 'noTarget');
    isScimError(await s.call('PATCH', `/Users/${u.id}`, { schemas: [PATCH_OP], Operations: 'all' }), 400, 'invalidSyntax');
    isScimError(await s.call('PATCH', `/Users/${u.id}`, { schemas: ['urn:x'], Operations: [] }), 400, 'invalidSyntax');
    const after = (await s.call('GET', `/Users/${u.id}`)).body;
    expect(after.userName).toBe('p@example.com');
    expect(after.meta.version).toBe('W/"1"');
  });

  it('refuses 10,000 operations in one PATCH, accepts the documented 1,000', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('ops@example.com');
    const many = Array.from({ length: 10_000 }, (_, i) => ({ op: 'replace', path: 'nickName', value: `n${i}` }));
    isScimError(await s.patch(`/Users/${u.id}`, many), 400, 'invalidValue');
    const ok = await s.patch(`/Users/${u.id}`, many.slice(0, 1000));
    expect(ok.status).toBe(200);
    expect(ok.body.nickName).toBe('n999');
  });

  it('adds and removes 10,000 members in one operation, touching only changed rows', async () => {
    const s = await scimTenant(app);
    const now = app.clock.now();
    const ids = Array.from({ length: 10_000 }, (_, i) => `usr_m${String(i).padStart(5, '0')}`);
    await s.t.db.user.createMany({ data: ids.map((id) => ({ id, tenantId: s.t.id, userName: `${id}@x.com`, userNameKey: `${id}@x.com`, createdAt: now, updatedAt: now })) });
    const g = await s.createGroup('Everyone');
    const heard: string[] = [];
    const unsubscribe = app.services.bus.subscribe((e) => {
      if (e.tenantId === s.t.id) heard.push(e.type);
    });
    const add = await s.patch(`/Groups/${g.id}`, [{ op: 'Add', path: 'members', value: ids.map((value) => ({ $ref: null, value })) }]);
    unsubscribe();
    expect(add.status).toBe(204);
    expect(heard).toEqual(['members.changed']); // one notification for the change set, not 10,000
    expect(await s.t.db.groupMembership.count({ where: { groupId: g.id } })).toBe(10_000);
    const firstRow = await s.t.db.groupMembership.findFirst({ where: { groupId: g.id, userId: ids[0]! } });
    // Re-adding everyone plus one removal: only one row changes, the others are untouched.
    app.clock.advance(5000);
    const again = await s.patch(`/Groups/${g.id}`, [
      { op: 'add', path: 'members', value: ids.map((value) => ({ value })) },
      { op: 'remove', path: `members[value eq "${ids[1]}"]` },
    ]);
    expect(again.status).toBe(204);
    expect(await s.t.db.groupMembership.count({ where: { groupId: g.id } })).toBe(9_999);
    expect(await s.t.db.groupMembership.findFirst({ where: { groupId: g.id, userId: ids[0]! } })).toEqual(firstRow);
    const removeAll = await s.patch(`/Groups/${g.id}`, [{ op: 'Remove', path: 'members', value: ids.map((value) => ({ value })) }]);
    expect(removeAll.status).toBe(204);
    expect(await s.t.db.groupMembership.count({ where: { groupId: g.id } })).toBe(0);
  }, 240_000); // 30,000 membership writes: minutes on a machine loaded by the rest of the suite

  it('cross-tenant ids and tokens are refused', async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const bu = await b.createUser('b-user@example.com');
    const bg = await b.createGroup('B group', [bu.id]);
    isScimError(await a.call('GET', `/Users/${bu.id}`), 404);
    isScimError(await a.call('PUT', `/Users/${bu.id}`, { schemas: [USER], userName: 'stolen' }), 404);
    isScimError(await a.patch(`/Users/${bu.id}`, [{ op: 'replace', path: 'active', value: false }]), 404);
    isScimError(await a.call('DELETE', `/Users/${bu.id}`), 404);
    isScimError(await a.call('GET', `/Groups/${bg.id}`), 404);
    isScimError(await a.patch(`/Groups/${bg.id}`, [{ op: 'add', path: 'members', value: [] }]), 404);
    expect((await a.call('GET', `/Users?filter=${encodeURIComponent(`id eq "${bu.id}"`)}`)).body.totalResults).toBe(0);
    expect((await a.call('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${bu.id}"`)}`)).body.totalResults).toBe(0);
    const ag = await a.createGroup('A group');
    // Another tenant's user id is an unknown id here: skipped (and audited), never added.
    expect((await a.patch(`/Groups/${ag.id}`, [{ op: 'add', path: 'members', value: [{ value: bu.id }] }])).status).toBe(204);
    const x = await a.call('POST', '/Groups', { schemas: [], displayName: 'x', members: [{ value: bu.id }] });
    expect(x.status).toBe(201);
    expect(x.body.members).toEqual([]);
    expect((await a.call('GET', `/Groups/${ag.id}`)).body.members ?? []).toEqual([]);
    expect(await b.t.db.groupMembership.count({ where: { userId: bu.id } })).toBe(1);
    // B's token on A's URL
    const res = await fetch(`${a.base}/Users/${bu.id}`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(res.status).toBe(401);
    expect((await b.call('GET', `/Users/${bu.id}`)).body.active).toBe(true);
    expect((await b.call('GET', `/Groups/${bg.id}`)).body.members).toHaveLength(1);
  });
});
