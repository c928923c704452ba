import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ENTERPRISE, scimTenant, type ScimTenant } from './scim-client.js';

interface Fixture {
  name: string;
  target: 'User' | 'Group';
  body: unknown;
  expect: Record<string, unknown>;
}
const fixtures = (
  JSON.parse(readFileSync(new URL('../fixtures/scim/idp-patch-fixtures.json', import.meta.url), 'utf8')) as {
    fixtures: Fixture[];
  }
).fixtures;

type Ids = Record<'uid' | 'uid2' | 'other' | 'mgr' | 'gid', string>;

const fill = (v: unknown, ids: Ids): unknown =>
  JSON.parse(JSON.stringify(v).replace(/\{\{(uid2|uid|other|mgr|gid)\}\}/g, (_, k: keyof Ids) => ids[k]));

/** Reads a dotted `expect` key: `emails[type eq "work"].value`, `urn:…:User.attr.sub`, `members.value`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function read(resource: any, key: string): unknown {
  if (key.startsWith(`${ENTERPRISE}.`)) return read(resource[ENTERPRISE] ?? {}, key.slice(ENTERPRISE.length + 1));
  const filtered = /^(\w+)\[type eq "(\w+)"\]\.(\w+)$/.exec(key);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  if (filtered) return (resource[filtered[1]!] ?? []).find((e: any) => e.type === filtered[2])?.[filtered[3]!];
  if (key === 'members.value') return ((resource.members ?? []) as { value: string }[]).map((m) => m.value).sort();
  return key.split('.').reduce((o, k) => (o == null ? undefined : (o as Record<string, unknown>)[k]), resource);
}

/** The fixtures' expected values, with the outcomes written in angle brackets made concrete. */
function expected(key: string, value: unknown, ids: Ids): unknown {
  if (key === 'members.value') {
    const list = (value as string[]).map((v) => (v.startsWith('<') ? ids.other : v));
    return [...new Set(list)].sort();
  }
  if (typeof value === 'string' && value.startsWith('<')) return undefined; // "<absent>", "<empty or absent>"
  return value;
}

describe.each(testDbKinds)('every IdP PATCH fixture replayed over HTTP (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  /** The fixtures' starting state (see their `_about`). */
  async function startingState(s: ScimTenant): Promise<Ids> {
    const mgr = await s.createUser('manager@example.com');
    const other = await s.createUser('other@example.com');
    const uid2 = await s.createUser('second@example.com');
    const uid = await s.createUser('babs@example.com', {
      externalId: 'babs',
      displayName: 'Babs Jensen',
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      emails: [{ type: 'work', value: 'babs@example.com', primary: true }],
      [ENTERPRISE]: { employeeNumber: '701984', manager: { value: mgr.id } },
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
    });
    const group = await s.createGroup('Engineering', [uid.id, other.id]);
    return { uid: uid.id, uid2: uid2.id, other: other.id, mgr: mgr.id, gid: group.id };
  }

  for (const f of fixtures) {
    it(`${f.name}`, async () => {
      const s = await scimTenant(app);
      const ids = await startingState(s);
      const path = f.target === 'User' ? `/Users/${ids.uid}` : `/Groups/${ids.gid}`;
      const res = await s.call('PATCH', path, fill(f.body, ids));
      expect([200, 204]).toContain(res.status);
      const after = (await s.call('GET', path)).body;
      for (const [key, value] of Object.entries(f.expect)) {
        expect(read(after, key), key).toEqual(expected(key, fill(value, ids), ids));
      }
      if (f.target === 'User') {
        // Everything the PATCH did not name is still there.
        expect(after.userName).toBe('babs@example.com');
        expect(after.id).toBe(ids.uid);
      }
    });
  }

  it('covers all 18 fixtures', () => {
    expect(fixtures).toHaveLength(18);
  });
});
