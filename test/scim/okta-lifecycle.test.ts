import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { GROUP, PATCH_OP, USER, scimTenant } from './scim-client.js';

const q = (filter: string) => `filter=${encodeURIComponent(filter)}&startIndex=1&count=100`;

describe.each(testDbKinds)('Okta provisioning lifecycle over HTTP (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('test connection, match, create, PUT update, deactivate, reactivate, import, Group Push', async () => {
    const s = await scimTenant(app);
    // Okta's "HTTP Header" authentication sends the bare token; Okta identifies itself in User-Agent.
    const okta = (method: string, path: string, body?: unknown) =>
      s.call(method, path, body, { authorization: s.token, 'user-agent': 'Okta SCIM Client 1.0.0' });

    // 1. Test API credentials
    const test = await okta('GET', '/Users?startIndex=1&count=1');
    expect(test.status).toBe(200);
    expect(test.body.totalResults).toBe(0);

    // 2. Match before create
    const match = await okta('GET', `/Users?${q('userName eq "dana.scully@fbi.example"')}`);
    expect(match.body).toMatchObject({ totalResults: 0, Resources: [] });

    // 3. Create (with the password placeholder and groups:[] Okta sends)
    const created = await okta('POST', '/Users', {
      schemas: [USER],
      userName: 'dana.scully@fbi.example',
      name: { givenName: 'Dana', familyName: 'Scully' },
      emails: [{ primary: true, value: 'dana.scully@fbi.example', type: 'work' }],
      displayName: 'Dana Scully',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ userName: 'dana.scully@fbi.example', externalId: '00ujl29u0le5T6Aj10h7', active: true, locale: 'en-US' });
    expect(created.body.password).toBeUndefined();
    expect((await okta('GET', `/Users?${q('userName eq "Dana.Scully@FBI.example"')}`)).body.totalResults).toBe(1);

    // 4. Update: GET then PUT of the whole user
    const current = (await okta('GET', `/Users/${id}`)).body;
    const put = await okta('PUT', `/Users/${id}`, { ...current, name: { givenName: 'Dana', familyName: 'Scully-Mulder' }, password: 'x' });
    expect(put.status).toBe(200);
    expect(put.body.name.familyName).toBe('Scully-Mulder');
    expect(put.body.meta.created).toBe(current.meta.created);

    // 5. Deactivate (path-less replace) — user stays readable and filterable
    const off = await okta('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect((await okta('GET', `/Users?${q('userName eq "dana.scully@fbi.example"')}`)).body.Resources[0].active).toBe(false);
    const again = await okta('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(again.status).toBe(200); // idempotent

    // 6. Reactivate
    const on = await okta('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
    expect(on.body.active).toBe(true);

    // 7. Import: paging
    const other = await s.createUser('fox.mulder@fbi.example');
    const page1 = (await okta('GET', '/Users?startIndex=1&count=1')).body;
    const page2 = (await okta('GET', '/Users?startIndex=2&count=1')).body;
    expect(page1).toMatchObject({ totalResults: 2, itemsPerPage: 1, startIndex: 1 });
    expect([page1.Resources[0].id, page2.Resources[0].id].sort()).toEqual([id, other.id].sort());

    // 8. Group Push: lookup, create, rename-before-membership, membership changes, full replace, delete
    expect((await okta('GET', `/Groups?${q('displayName eq "X-Files"')}`)).body.totalResults).toBe(0);
    const g = await okta('POST', '/Groups', { schemas: [GROUP], displayName: 'X-Files', members: [] });
    expect(g.status).toBe(201);
    const gid = g.body.id as string;
    const rename = { op: 'replace', value: { id: gid, displayName: 'X-Files Unit' } };
    expect((await okta('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [rename] })).status).toBe(204);
    expect((await okta('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [rename] })).status).toBe(204);
    const addBoth = await okta('PATCH', `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: id, display: 'dana' }, { value: other.id, display: 'fox' }] }],
    });
    expect(addBoth.status).toBe(204);
    const swap = await okta('PATCH', `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'remove', path: `members[value eq "${other.id}"]` }],
    });
    expect(swap.status).toBe(204);
    let group = (await okta('GET', `/Groups/${gid}`)).body;
    expect(group.displayName).toBe('X-Files Unit');
    expect(group.members.map((m: { value: string }) => m.value)).toEqual([id]);
    await okta('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'members', value: [{ value: other.id }] }] });
    group = (await okta('GET', `/Groups/${gid}`)).body;
    expect(group.members.map((m: { value: string }) => m.value)).toEqual([other.id]);
    expect((await okta('GET', `/Users/${other.id}`)).body.groups[0]).toMatchObject({ value: gid, display: 'X-Files Unit' });
    expect((await okta('DELETE', `/Groups/${gid}`)).status).toBe(204);
    expect((await okta('GET', `/Users/${other.id}`)).body.groups).toBeUndefined();
    // Okta never deletes users: both remain.
    expect((await okta('GET', '/Users')).body.totalResults).toBe(2);

    // One audit event per write (idempotent repeats write nothing), by this token, with attribute NAMES only.
    const events = await s.t.db.auditEvent.findMany({ where: { action: { startsWith: 'scim.' } }, orderBy: { createdAt: 'asc' } });
    const count = (action: string) => events.filter((e) => e.action === action).length;
    expect(count('scim.user.create')).toBe(2);
    expect(count('scim.user.replace')).toBe(1);
    expect(count('scim.user.patch')).toBe(2); // deactivate + reactivate; the repeated deactivation changed nothing
    expect(count('scim.group.create')).toBe(1);
    expect(count('scim.group.patch')).toBe(4); // first rename, add both, remove one, replace members
    expect(count('scim.group.delete')).toBe(1);
    expect(events.every((e) => e.actorKind === 'scim-token' && e.actorId === s.tokenId)).toBe(true);
    const replace = events.find((e) => e.action === 'scim.user.replace')!;
    expect(replace.detail).toEqual({ changed: ['name'] });
    expect(JSON.stringify(events)).not.toContain('Scully-Mulder');
  });
});
