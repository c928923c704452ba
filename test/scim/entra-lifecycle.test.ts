import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ENTERPRISE, GROUP, PATCH_OP, USER, scimTenant } from './scim-client.js';

const ADSCIM_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;

describe.each(testDbKinds)('Microsoft Entra provisioning lifecycle over HTTP (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  for (const mode of ['default', 'aadOptscim062020'] as const) {
    it(`runs the whole lifecycle in ${mode} mode`, async () => {
      const s = await scimTenant(app);
      const flag = mode === 'aadOptscim062020';
      const qs = flag ? '?aadOptscim062020' : ''; // unknown query parameters are ignored
      const sep = flag ? '&' : '?';
      const op = (name: 'add' | 'replace' | 'remove') => (flag ? name : name[0]!.toUpperCase() + name.slice(1));
      const patch = (path: string, Operations: unknown[]) => s.call('PATCH', `${path}${qs}`, { schemas: [PATCH_OP], Operations });

      // Test connection: random GUIDs on each matching attribute → 200 + empty ListResponse
      const guid = '4cd0ea9a-1d7b-4f0e-8f0d-2a3e8c1f6b55';
      for (const filter of [`userName eq "${guid}"`, `externalId eq "${guid}"`, `emails[type eq "work"].value eq "${guid}"`]) {
        const res = await s.call('GET', `/Users${qs}${sep}${f(filter)}`);
        expect(res.status).toBe(200);
        expect(res.body.totalResults).toBe(0);
      }
      expect((await s.call('GET', `/Groups${qs}${sep}excludedAttributes=members&${f(`displayName eq "${guid}"`)}`)).body.totalResults).toBe(0);

      // Create: query by userName first, then POST with the enterprise extension, meta and empty roles
      const upn = `ryan.${mode}@contoso.example`;
      expect((await s.call('GET', `/Users${qs}${sep}${f(`userName eq "${upn}"`)}`)).body.totalResults).toBe(0);
      const created = await s.call('POST', `/Users${qs}`, {
        schemas: [USER, ENTERPRISE],
        externalId: 'ryan',
        userName: upn,
        active: true,
        emails: [{ primary: true, type: 'work', value: upn }],
        meta: { resourceType: 'User' },
        name: { formatted: 'Ryan Leenay', familyName: 'Leenay', givenName: 'Ryan' },
        roles: [],
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const manager = await s.createUser(`boss.${mode}@contoso.example`);

      // Update
      if (flag) {
        await patch(`/Users/${id}`, [
          { op: 'replace', path: 'emails[type eq "work"].value', value: 'ryan.new@contoso.example' },
          { op: 'replace', value: { displayName: 'Ryan L', 'name.givenName': 'Ry', 'name.familyName': 'Lee', [`${ENTERPRISE}:employeeNumber`]: 'E-1' } },
          { op: 'add', path: 'nickName', value: 'Ry' },
        ]);
      } else {
        await patch(`/Users/${id}`, [
          { op: 'Replace', path: 'displayName', value: 'Ryan L' },
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ryan.new@contoso.example' },
          { op: 'Replace', path: 'name.givenName', value: 'Ry' },
          { op: 'Replace', path: 'name.familyName', value: 'Lee' },
          { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: 'E-1' },
          { op: 'Add', path: 'nickName', value: 'Ry' },
        ]);
      }
      await patch(`/Users/${id}`, [{ op: op('add'), path: `${ENTERPRISE}:manager`, value: manager.id }]);
      let user = (await s.call('GET', `/Users/${id}`)).body;
      expect(user).toMatchObject({ displayName: 'Ryan L', nickName: 'Ry', name: { givenName: 'Ry', familyName: 'Lee', formatted: 'Ryan Leenay' } });
      expect(user.emails).toEqual([{ primary: true, type: 'work', value: 'ryan.new@contoso.example' }]);
      expect(user[ENTERPRISE]).toEqual({ employeeNumber: 'E-1', manager: { value: manager.id } });
      // A null update: clearing an optional attribute with ""
      await patch(`/Users/${id}`, [{ op: op('replace'), path: 'nickName', value: '' }, { op: op('replace'), path: `${ENTERPRISE}:manager`, value: '' }]);
      user = (await s.call('GET', `/Users/${id}`)).body;
      expect(user.nickName).toBeUndefined();
      expect(user[ENTERPRISE]).toEqual({ employeeNumber: 'E-1' });

      // Disable ("False" string by default, boolean with the flag); stays readable and filterable; restore
      const disable = await patch(`/Users/${id}`, [{ op: op('replace'), path: 'active', value: flag ? false : 'False' }]);
      expect(disable.status).toBe(200);
      expect(disable.body.active).toBe(false);
      expect((await s.call('GET', `/Users?${f(`userName eq "${upn}"`)}`)).body.Resources[0].active).toBe(false);
      const restore = await patch(`/Users/${id}`, [{ op: op('replace'), path: 'active', value: flag ? true : 'True' }]);
      expect(restore.body.active).toBe(true);

      // Groups: create without members, add several, remove (value array by default, filter with the flag), rename
      const g = await s.call('POST', `/Groups${qs}`, {
        schemas: [GROUP, ADSCIM_GROUP],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: `Sales ${mode}`,
        meta: { resourceType: 'Group' },
      });
      expect(g.status).toBe(201);
      const gid = g.body.id as string;
      expect(g.body.schemas).toContain(GROUP);
      const add = await patch(`/Groups/${gid}`, [{ op: op('add'), path: 'members', value: [{ $ref: null, value: id }, { $ref: null, value: manager.id }] }]);
      expect(add.status).toBe(204);
      const removeOp = flag ? { op: 'remove', path: `members[value eq "${manager.id}"]` } : { op: 'Remove', path: 'members', value: [{ $ref: null, value: manager.id }] };
      expect((await patch(`/Groups/${gid}`, [removeOp])).status).toBe(204);
      expect((await patch(`/Groups/${gid}`, [{ op: op('replace'), path: 'displayName', value: `Sales EMEA ${mode}` }])).status).toBe(204);
      const slim = (await s.call('GET', `/Groups/${gid}?excludedAttributes=members`)).body;
      expect(slim).toMatchObject({ displayName: `Sales EMEA ${mode}`, externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159' });
      expect(slim.members).toBeUndefined();
      const full = (await s.call('GET', `/Groups/${gid}`)).body;
      expect(full.members.map((m: { value: string }) => m.value)).toEqual([id]);

      // Validator quirk: an empty Operations list is a no-op
      expect((await patch(`/Users/${id}`, [])).status).toBe(200);
      expect((await patch(`/Groups/${gid}`, [])).status).toBe(204);

      // Hard delete
      expect((await s.call('DELETE', `/Users/${id}`)).status).toBe(204);
      expect((await s.call('GET', `/Users/${id}`)).status).toBe(404);
      expect((await s.call('GET', `/Groups/${gid}`)).body.members).toEqual([]);
      expect((await s.call('DELETE', `/Groups/${gid}`)).status).toBe(204);
    });
  }
});
