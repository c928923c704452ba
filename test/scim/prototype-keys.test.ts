import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ERROR, USER, scimTenant, type ScimReply } from './scim-client.js';

// Keys a PATCH engine or a merge could follow into Object.prototype, which every tenant's requests share.
const MARKS = ['ppMark1', 'ppMark2', 'ppMark3', 'ppMark4', 'ppMark5', 'ppMark6'];
const polluted = () => MARKS.filter((k) => k in ({} as Record<string, unknown>));
const cleanup = () => {
  for (const k of MARKS) delete (Object.prototype as Record<string, unknown>)[k];
};

const refused = (r: ScimReply, scimType: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body).toMatchObject({ schemas: [ERROR], status: '400', scimType });
};

describe.each(testDbKinds)('SCIM refuses prototype-naming keys, too-deep documents and server-owned attributes by URN (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterEach(cleanup);
  afterAll(() => app?.close());

  it('PATCH paths naming __proto__, constructor or prototype are refused, in any part and any spelling', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('pp-path@example.com', { name: { givenName: 'A' }, emails: [{ type: 'work', value: 'constructor@example.com' }] });
    for (const path of [
      'urn:x:y:__proto__.ppMark1',
      'urn:x:y:constructor.prototype.ppMark1',
      'urn:x:y:__PROTO__',
      'name.constructor',
      'emails[__proto__ eq "x"].value',
      'emails[type eq "work"].__proto__',
    ]) {
      refused(await s.patch(`/Users/${u.id}`, [{ op: 'add', path, value: 'x' }]), 'invalidPath');
    }
    const g = await s.createGroup('pp group');
    refused(await s.patch(`/Groups/${g.id}`, [{ op: 'add', path: 'urn:x:y:__proto__.ppMark1', value: 'x' }]), 'invalidPath');
    expect(polluted()).toEqual([]);
    // A filter VALUE is not an attribute name: it is still accepted.
    const ok = await s.patch(`/Users/${u.id}`, [{ op: 'remove', path: 'emails[value eq "constructor@example.com"]' }]);
    expect(ok.status).toBe(200);
    expect(ok.body.emails).toBeUndefined();
  });

  it('values and documents whose keys name a prototype are refused: PATCH values, path-less PATCH, POST and PUT', async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const victim = await b.createGroup('B group');
    const u = await a.createUser('pp-value@example.com', { name: { givenName: 'A' } });
    refused(await a.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'name', value: { '__proto__.ppMark2': 'yes' } }]), 'invalidValue');
    refused(await a.patch(`/Users/${u.id}`, [{ op: 'add', path: 'name', value: { 'constructor.prototype.ppMark3': 'yes' } }]), 'invalidValue');
    refused(await a.patch(`/Users/${u.id}`, [{ op: 'add', value: { 'urn:x:y:__proto__': { ppMark4: 'yes' } } }]), 'invalidValue');
    // As JSON text: JSON.parse makes "__proto__" an own key, which a merge or PATCH engine would then follow.
    refused(await a.call('POST', '/Users', `{"schemas":["${USER}"],"userName":"pp-post@example.com","urn:x:y:1.0:User":{"__proto__":{"ppMark5":"yes"}}}`), 'invalidValue');
    refused(await a.call('PUT', `/Users/${u.id}`, { schemas: [USER], userName: 'pp-value@example.com', 'urn:x:y:1.0:User': { 'a.prototype': { ppMark6: 1 } } }), 'invalidValue');
    expect(polluted()).toEqual([]);
    // The other tenant's reads still work (the reported impact was every Prisma query failing afterwards).
    expect((await b.call('GET', `/Groups/${victim.id}`)).status).toBe(200);
  });

  it('documents nesting deeper than the bound are a 400, not a stack overflow', async () => {
    const s = await scimTenant(app);
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    refused(await s.call('POST', '/Users', `{"schemas":["${USER}"],"userName":"deep@example.com","urn:x:custom:1.0:User":{"a":${deep}}}`), 'invalidValue');
    const u = await s.createUser('deep-patch@example.com');
    refused(await s.patch(`/Users/${u.id}`, [{ op: 'add', path: 'urn:x:custom:1.0:User:a', value: JSON.parse('['.repeat(40) + ']'.repeat(40)) }]), 'invalidValue');
    // Moderate nesting in an undescribed extension is still kept as sent.
    const nested = { l1: { l2: { l3: { l4: ['x'] } } } };
    const ok = await s.call('POST', '/Users', { schemas: [USER], userName: 'nested@example.com', 'urn:x:custom:1.0:User': nested });
    expect(ok.status).toBe(201);
    expect(ok.body['urn:x:custom:1.0:User']).toEqual(nested);
  });

  it('read-only sub-attributes a client sends are not stored (manager.displayName, RFC 7643 §2.2 and §4.3)', async () => {
    const s = await scimTenant(app);
    const boss = await s.createUser('boss@example.com');
    const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    const r = await s.call('POST', '/Users', { schemas: [USER, ENTERPRISE], userName: 'ro-sub@example.com', [ENTERPRISE]: { manager: { value: boss.id, displayName: 'Forged Boss' } } });
    expect(r.status).toBe(201);
    expect(r.body[ENTERPRISE].manager.value).toBe(boss.id);
    expect(JSON.stringify(r.body)).not.toContain('Forged Boss');
  });

  it('PATCH value filters select elements by the schema case rules, as GET filters do (RFC 7644 §3.5.2, RFC 7643 §2.4)', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('case@example.com', { emails: [{ type: 'work', value: 'a@x.com' }, { type: 'home', value: 'h@x.com' }] });
    expect((await s.call('GET', `/Users?filter=${encodeURIComponent('emails[value eq "A@X.COM"]')}`)).body.totalResults).toBe(1);
    const rm = await s.patch(`/Users/${u.id}`, [{ op: 'remove', path: 'emails[value eq "A@X.COM"]' }]);
    expect(rm.body.emails).toEqual([{ type: 'home', value: 'h@x.com' }]);
    const u2 = await s.createUser('case2@example.com', { emails: [{ type: 'work', value: 'a@x.com', primary: true }] });
    const rp = await s.patch(`/Users/${u2.id}`, [{ op: 'replace', path: 'emails[type eq "Work"].value', value: 'b@x.com' }]);
    expect(rp.body.emails).toEqual([{ type: 'work', value: 'b@x.com', primary: true }]);
    // No element matches: an add or replace still creates it from the filter (Entra's rule), a remove has no target.
    const add = await s.patch(`/Users/${u2.id}`, [{ op: 'replace', path: 'emails[type eq "other"].value', value: 'o@x.com' }]);
    expect(add.body.emails).toEqual([{ type: 'work', value: 'b@x.com', primary: true }, { type: 'other', value: 'o@x.com' }]);
    // Another multi-valued attribute: its `type` compares case-insensitively too.
    const u3 = await s.createUser('case3@example.com', { phoneNumbers: [{ type: 'Mobile', value: '+1 555' }] });
    const ph = await s.patch(`/Users/${u3.id}`, [{ op: 'remove', path: 'phoneNumbers[type eq "mobile"]' }]);
    expect(ph.body.phoneNumbers).toBeUndefined();
  });

  it('the ETag header is the resource version also when attributes= or excludedAttributes= leave meta out (RFC 7644 §3.14)', async () => {
    const s = await scimTenant(app);
    const u = await s.createUser('etag@example.com');
    const g = await s.createGroup('etag group');
    for (const path of [`/Users/${u.id}?attributes=userName`, `/Users/${u.id}?excludedAttributes=meta`, `/Groups/${g.id}?attributes=displayName`]) {
      const r = await s.call('GET', path);
      expect(r.status).toBe(200);
      expect(r.body.meta).toBeUndefined();
      expect(r.headers.get('etag'), path).toBe('W/"1"');
    }
    const p = await s.call('PATCH', `/Users/${u.id}?attributes=userName`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'x' }] }, { 'if-match': 'W/"1"' });
    expect(p.status).toBe(200);
    expect(p.headers.get('etag')).toBe('W/"2"');
  });

  it('server-owned attributes named by their URN are ignored like their short names (RFC 7643 §3.10, §3.1, §4.1.1)', async () => {
    const s = await scimTenant(app);
    const r = await s.call('POST', '/Users', {
      schemas: [USER],
      userName: 'urn-owned@example.com',
      [`${USER}:password`]: 'S3cret!',
      [`${USER}:id`]: 'usr_forged',
      [`${USER}:groups`]: [{ value: 'grp_admins', display: 'Admins' }],
      [`${USER}:meta`]: { version: 'W/"99"' },
    });
    expect(r.status).toBe(201);
    const row = await s.t.db.user.findFirst({ where: { userNameKey: 'urn-owned@example.com' }, select: { id: true, attributes: true } });
    expect(r.body.id).toBe(row!.id);
    expect(JSON.stringify(row!.attributes)).not.toMatch(/S3cret|usr_forged|grp_admins/);
    const got = await s.call('GET', `/Users/${row!.id}`);
    expect(got.body.password).toBeUndefined();
    expect(got.body.groups ?? []).toEqual([]);
    const put = await s.call('PUT', `/Users/${row!.id}`, { schemas: [USER], userName: 'urn-owned@example.com', [`${USER}:password`]: 'PutSecret' });
    expect(put.status).toBe(200);
    expect(JSON.stringify(put.body)).not.toContain('PutSecret');
    // A group's members are written through the membership table only, never stored in its document.
    const g = await s.call('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'urn-members', 'urn:ietf:params:scim:schemas:core:2.0:Group:members': [{ value: 'usr_forged' }] });
    expect(g.status).toBe(201);
    const stored = await s.t.db.group.findFirst({ where: { id: g.body.id }, select: { attributes: true } });
    expect(JSON.stringify(stored!.attributes ?? {})).not.toContain('usr_forged');
  });
});
