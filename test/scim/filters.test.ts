import { driverOf, registerDriver } from '../../src/db/hot-sql.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ENTERPRISE, scimTenant, type ScimTenant } from './scim-client.js';

describe.each(testDbKinds)('SCIM filters evaluated in the database (%s)', (kind) => {
  let app: TestApp;
  let s: ScimTenant;
  let ids: Record<'alice' | 'bob' | 'carol', string>;
  let gid: string;
  beforeAll(async () => {
    app = await startTestApp(kind);
    s = await scimTenant(app);
    const alice = await s.createUser('Alice@Example.com', {
      displayName: 'Alice Smith',
      externalId: 'ext-A',
      title: 'Engineer',
      name: { givenName: 'Alice', familyName: 'Smith' },
      emails: [
        { type: 'work', value: 'alice@corp.com', primary: true },
        { type: 'home', value: 'alice@home.net' },
      ],
      [ENTERPRISE]: { department: 'R&D' },
    });
    app.clock.advance(60_000);
    const bob = await s.createUser('bob@example.com', {
      displayName: 'Bob Jones',
      externalId: 'EXT-a',
      emails: [
        { type: 'home', value: 'bob@corp.com' },
        { type: 'work', value: 'bob@work.org' },
      ],
    });
    app.clock.advance(60_000);
    const carol = await s.createUser('carol@other.org', { nickName: 'C', active: false, displayName: '100% Carol_x' });
    ids = { alice: alice.id, bob: bob.id, carol: carol.id };
    gid = (await s.createGroup('Engineering', [alice.id])).id;
  });
  afterAll(() => app?.close());

  const find = async (filter: string) => {
    const res = await s.call('GET', `/Users?filter=${encodeURIComponent(filter)}`);
    if (res.status !== 200) throw new Error(`${filter}: ${res.status} ${JSON.stringify(res.body)}`);
    const names = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
    return (res.body.Resources as { id: string }[]).map((r) => names.get(r.id)).sort();
  };

  it('renders a listed user exactly as GET /Users/{id} does', async () => {
    const listed = (await s.call('GET', `/Users?filter=${encodeURIComponent('userName eq "alice@example.com"')}`)).body.Resources[0];
    const single = (await s.call('GET', `/Users/${ids.alice}`)).body;
    expect(listed).toEqual(single);
    expect(listed.groups).toEqual([expect.objectContaining({ value: gid, display: 'Engineering' })]);
  });

  it('compares userName case-insensitively with every operator', async () => {
    expect(await find('userName eq "alice@example.COM"')).toEqual(['alice']);
    expect(await find('userName ne "alice@example.com"')).toEqual(['bob', 'carol']);
    expect(await find('userName co "EXAMPLE"')).toEqual(['alice', 'bob']);
    expect(await find('userName sw "B"')).toEqual(['bob']);
    expect(await find('userName ew ".ORG"')).toEqual(['carol']);
    expect(await find('userName gt "bob@example.com"')).toEqual(['carol']);
    expect(await find('userName ge "bob@example.com"')).toEqual(['bob', 'carol']);
    expect(await find('userName lt "bob@example.com"')).toEqual(['alice']);
    expect(await find('userName le "BOB@example.com"')).toEqual(['alice', 'bob']);
    expect(await find('USERNAME Eq "bob@example.com"')).toEqual(['bob']);
  });

  it('treats LIKE metacharacters in values literally', async () => {
    expect(await find('displayName co "100%"')).toEqual(['carol']);
    expect(await find('displayName co "l_x"')).toEqual(['carol']);
    expect(await find('displayName co "%"')).toEqual(['carol']);
    expect(await find('displayName co "_"')).toEqual(['carol']);
  });

  it('honours caseExact: externalId and id are exact, displayName and title are not', async () => {
    expect(await find('externalId eq "ext-A"')).toEqual(['alice']);
    expect(await find('externalId eq "EXT-a"')).toEqual(['bob']);
    expect(await find(`id eq "${ids.alice.toUpperCase()}"`)).toEqual([]);
    expect(await find(`id eq "${ids.alice}"`)).toEqual(['alice']);
    expect(await find('displayName eq "alice smith"')).toEqual(['alice']);
    expect(await find('title eq "ENGINEER"')).toEqual(['alice']);
    expect(await find('name.familyName sw "smi"')).toEqual(['alice']);
  });

  it('supports pr, booleans, dates, extension attributes and group membership', async () => {
    expect(await find('title pr')).toEqual(['alice']);
    expect(await find('emails pr')).toEqual(['alice', 'bob']);
    expect(await find('active eq false')).toEqual(['carol']);
    expect(await find('active eq true')).toEqual(['alice', 'bob']);
    expect(await find(`${ENTERPRISE}:department eq "r&d"`)).toEqual(['alice']);
    const bobCreated = (await s.call('GET', `/Users/${ids.bob}`)).body.meta.created as string;
    expect(await find(`meta.created gt "${bobCreated}"`)).toEqual(['carol']);
    expect(await find(`meta.created ge "${bobCreated}"`)).toEqual(['bob', 'carol']);
    expect(await find(`meta.lastModified lt "${bobCreated}"`)).toEqual(['alice']);
    expect(await find(`groups.value eq "${gid}"`)).toEqual(['alice']);
    expect(await find(`groups eq "${gid}"`)).toEqual(['alice']);
    expect(await find('emails[primary eq true]')).toEqual(['alice']);
  });

  it('combines with and, or, not and parentheses (and binds tighter than or)', async () => {
    expect(await find('userName sw "a" or userName sw "b" and active eq false')).toEqual(['alice']);
    expect(await find('(userName sw "a" or userName sw "b") and active eq true')).toEqual(['alice', 'bob']);
    expect(await find('not (userName sw "a")')).toEqual(['bob', 'carol']);
    expect(await find('not (title pr) and not (active eq false)')).toEqual(['bob']);
    expect(await find('emails.type eq "work" and (emails.value ew "org" or title pr)')).toEqual(['alice', 'bob']);
  });

  it('evaluates complex value filters on one element', async () => {
    expect(await find('emails[type eq "work" and value co "@corp.com"]')).toEqual(['alice']);
    expect(await find('emails[type eq "home" and value co "@corp.com"]')).toEqual(['bob']);
    expect(await find('emails[not (type eq "work")]')).toEqual(['alice', 'bob']);
    expect(await find('emails.value co "corp"')).toEqual(['alice', 'bob']);
    expect(await find('emails co "work.org"')).toEqual(['bob']);
  });

  it("binds Entra's emails[type eq \"work\"].value eq \"x\" to the SAME element (never the wrong user)", async () => {
    // bob has bob@corp.com as HOME and another address as WORK: an unbound reading would match him.
    expect(await find('emails[type eq "work"].value eq "bob@corp.com"')).toEqual([]);
    expect(await find('emails.type eq "work" and emails.value eq "bob@corp.com"')).toEqual(['bob']);
    expect(await find('emails[type eq "work"].value eq "BOB@WORK.ORG"')).toEqual(['bob']);
    expect(await find('emails[type eq "work"].value eq "alice@corp.com"')).toEqual(['alice']);
  });

  it("answers Entra's and Okta's test-connection queries with 200 and an empty list", async () => {
    for (const f of ['userName eq "7b3b2b5e-0d53-4a52-9e49-5b0f6a2d0f11"', 'externalId eq "7b3b2b5e-0d53-4a52-9e49-5b0f6a2d0f11"']) {
      const res = await s.call('GET', `/Users?filter=${encodeURIComponent(f)}&startIndex=1&count=100`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
    }
    const groups = await s.call('GET', `/Groups?filter=${encodeURIComponent('displayName eq "engineering"')}`);
    expect(groups.body.Resources.map((g: { id: string }) => g.id)).toEqual([gid]);
    const members = await s.call('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${ids.alice}"`)}`);
    expect(members.body.totalResults).toBe(1);
  });

  it('evaluates value filters on memberships (members[…], groups[…]) on one membership, never silently as no match', async () => {
    const groupsOf = async (f: string) => {
      const res = await s.call('GET', `/Groups?filter=${encodeURIComponent(f)}`);
      if (res.status !== 200) throw new Error(`${f}: ${JSON.stringify(res.body)}`);
      return (res.body.Resources as { id: string }[]).map((g) => g.id);
    };
    expect(await groupsOf(`members[value eq "${ids.alice}"]`)).toEqual([gid]);
    expect(await groupsOf(`members[value eq "${ids.bob}"]`)).toEqual([]);
    expect(await find(`groups[value eq "${gid}"]`)).toEqual(['alice']);
    expect(await find(`groups[value eq "${gid}" or value eq "grp_none"]`)).toEqual(['alice']);
    // One membership is both values at once: never.
    expect(await find(`groups[value eq "${gid}" and value eq "grp_none"]`)).toEqual([]);
    expect(await find(`groups[value pr]`)).toEqual(['alice']);
    expect(await find(`groups[not (value eq "${gid}")]`)).toEqual([]);
    for (const f of [`groups[display eq "x"]`, `members[value co "a"]`]) {
      const res = await s.call('GET', `/${f.startsWith('groups') ? 'Users' : 'Groups'}?filter=${encodeURIComponent(f)}`);
      expect(res.status, f).toBe(400);
      expect(res.body.scimType).toBe('invalidFilter');
    }
  });

  it('sorts by sortBy/sortOrder (RFC 7644 §3.4.2.3), missing values last', async () => {
    const order = async (qs: string) => {
      const res = await s.call('GET', `/Users?${qs}`);
      if (res.status !== 200) throw new Error(`${qs}: ${JSON.stringify(res.body)}`);
      const names = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
      return (res.body.Resources as { id: string }[]).map((r) => names.get(r.id));
    };
    expect(await order('sortBy=userName&sortOrder=descending')).toEqual(['carol', 'bob', 'alice']);
    expect(await order('sortBy=USERNAME')).toEqual(['alice', 'bob', 'carol']);
    expect(await order('sortBy=meta.created&sortOrder=Descending')).toEqual(['carol', 'bob', 'alice']);
    expect(await order('sortBy=displayName')).toEqual(['carol', 'alice', 'bob']); // "100% Carol_x" < "alice…" < "bob…"
    expect(await order('sortBy=name.familyName&sortOrder=descending')).toEqual(['alice', 'bob', 'carol']);
    expect(await order('sortBy=emails&sortOrder=descending')).toEqual(['bob', 'alice', 'carol']);
    expect(await order(`sortBy=${ENTERPRISE}:department`)).toEqual(['alice', 'bob', 'carol']);
    expect(await order('filter=' + encodeURIComponent('active eq true') + '&sortBy=userName&sortOrder=descending&count=1')).toEqual(['bob']);
    for (const bad of ['sortBy=name', 'sortBy=nosuch', 'sortBy=groups', 'sortBy=userName&sortOrder=sideways']) {
      const res = await s.call('GET', `/Users?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.scimType, bad).toBe('invalidValue');
    }
  });

  it('answers POST /.search (RFC 7644 §3.4.3) like GET', async () => {
    const res = await s.call('POST', '/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'emails[type eq "work"].value eq "bob@work.org"',
      attributes: ['userName'],
      startIndex: 1,
      count: 10,
    });
    expect(res.status).toBe(200);
    expect(res.body.Resources).toEqual([{ schemas: expect.any(Array), id: ids.bob, userName: 'bob@example.com' }]);
    const groups = await s.call('POST', '/Groups/.search', { filter: 'displayName sw "eng"', excludedAttributes: ['members'] });
    expect(groups.body.Resources.map((g: { id: string; members?: unknown }) => [g.id, g.members])).toEqual([[gid, undefined]]);
    expect((await s.call('POST', '/Users/.search', { filter: 'bogus eq 1' })).body.scimType).toBe('invalidFilter');
  });

  it('refuses what it cannot evaluate with 400 invalidFilter', async () => {
    for (const f of [
      'nosuch eq "x"',
      'name eq "x"',
      'userName zz "x"',
      'userName eq',
      'userName eq "x" and',
      '(userName eq "x"',
      'emails[type eq "work"',
      'emails[type eq "x" and emails[value eq "y"]]',
      'active gt true',
      'active eq "yes"',
      'meta.created gt "yesterday"',
      'userName eq x',
      'emails[foo eq "x"]',
      'title[value eq "x"]',
      `${'('.repeat(200)}userName eq "x"${')'.repeat(200)}`,
    ]) {
      const res = await s.call('GET', `/Users?filter=${encodeURIComponent(f)}`);
      expect(res.status, f).toBe(400);
      expect(res.body.scimType, f).toBe('invalidFilter');
    }
  });

  it('filters in SQL: only the matching ids leave the database, values are bound parameters', async () => {
    const now = app.clock.now();
    const t = await scimTenant(app);
    await t.t.db.user.createMany({
      data: Array.from({ length: 3000 }, (_, i) => ({ id: `usr_bulk${i}`, tenantId: t.t.id, userName: `bulk${i}@x.com`, userNameKey: `bulk${i}@x.com`, createdAt: now, updatedAt: now })),
    });
    expect((await t.call('GET', '/ServiceProviderConfig')).status).toBe(200); // the token is verified and cached
    const driver = driverOf(t.t.db)!;
    const sent: { name: string; text: string; params: unknown[]; rows: Record<string, unknown>[] }[] = [];
    registerDriver(t.t.db, async (st, params) => {
      const rows = await driver(st, params);
      sent.push({ ...st, params, rows });
      return rows;
    });
    const raw = vi.spyOn(t.t.db, '$queryRawUnsafe');
    try {
      const res = await t.call('GET', `/Users?filter=${encodeURIComponent('userName eq "BULK1234@x.com"')}`);
      expect(res.body.totalResults).toBe(1);
      expect(res.body.Resources[0].id).toBe('usr_bulk1234');
      // One round trip: the filtered page with its total, a prepared statement (hot-sql.ts); the filter is in the SQL,
      // the value and the page bounds are bound parameters.
      expect(raw).not.toHaveBeenCalled();
      expect(sent).toHaveLength(1);
      const [{ name, text, params, rows }] = sent as [(typeof sent)[0]];
      expect(name).toBe('sb_scim_user_page_user_name');
      expect(text).toContain('r."tenantId" = $1 AND (r."userNameKey" = $2::text)');
      expect(text).toContain('LIMIT $3::int OFFSET $4::int');
      expect(text).not.toContain('bulk1234');
      expect(params).toEqual([t.t.id, 'bulk1234@x.com', 500, 0]);
      expect(rows.map((r) => [r.id, Number(r.total)])).toEqual([['usr_bulk1234', 1]]);
      // Any other shape (here: a sort order) takes the general path, with the same answer.
      const sorted = await t.call('GET', `/Users?filter=${encodeURIComponent('userName eq "BULK1234@x.com"')}&sortBy=userName`);
      expect(sorted.body).toEqual(res.body);
      expect(raw).toHaveBeenCalledTimes(1);
      expect(sent).toHaveLength(1);
    } finally {
      registerDriver(t.t.db, driver);
      raw.mockRestore();
    }
  });
});
