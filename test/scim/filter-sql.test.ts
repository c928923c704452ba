import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/open-database.js';
import { parseFilter } from '../../src/scim/filter-parse.js';
import { FilterCompiler } from '../../src/scim/filter-sql.js';
import { groupKind, userKind, type ResourceKind } from '../../src/scim/resource-kinds.js';
import { ScimError } from '../../src/scim/scim-error.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

/**
 * The SCIM filter → SQL compiler on its own (issue 18), run against the real database: every comparison, the
 * three-valued NOT, LIKE escaping, case rules per attribute, the JSON paths (core, enterprise, custom extension,
 * multi-valued with and without a value filter), memberships bound to the tenant, and each refusal. The result a
 * filter selects is what an IdP (or a token holder) learns about the directory, so each branch is pinned by the
 * rows it returns.
 */
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CUSTOM = 'urn:example:params:scim:schemas:extension:badges:2.0:User';

describe.each(testDbKinds)('SCIM filter SQL (%s)', (kind) => {
  let db: Database;
  let a: TenantCtx;
  let b: TenantCtx;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    db = await openTestDatabase(kind);
    await createTenant(db.prisma, { slug: 'filter-a', name: 'A' });
    await createTenant(db.prisma, { slug: 'filter-b', name: 'B' });
    a = (await findTenantBySlug(db.prisma, 'filter-a'))!;
    b = (await findTenantBySlug(db.prisma, 'filter-b'))!;
    const user = (t: TenantCtx, id: string, userName: string, data: Record<string, unknown>) =>
      t.db.user.create({ data: { id, tenantId: t.id, userName, userNameKey: userName.toLowerCase(), ...data } });
    await user(a, 'u-alice', 'Alice@Acme.com', {
      displayName: 'Alice Smith',
      externalId: 'ext-1',
      createdAt: new Date('2026-01-01T00:00:00Z'),
      attributes: {
        name: { givenName: 'Alice', familyName: 'Smith' },
        title: 'Engineer',
        emails: [{ value: 'Alice@Acme.com', type: 'work', primary: true }],
        [ENT]: { department: 'R&D', manager: { value: 'u-bob' } },
        [CUSTOM]: { badge: 'B-1', level: { code: 'L1' } },
      },
    });
    await user(a, 'u-bob', 'bob@acme.com', {
      active: false,
      createdAt: new Date('2026-03-01T00:00:00Z'),
      attributes: { title: '100%_done\\', emails: [{ value: 'bob@other.com', type: 'home' }, { value: 'b2@acme.com', type: 'work' }], name: null },
    });
    await user(a, 'u-carol', 'carol@acme.com', {
      displayName: 'carol',
      createdAt: new Date('2026-01-15T00:00:00Z'),
      attributes: { title: '', emails: [], name: {}, nickName: 'Über' },
    });
    await user(b, 'u-alice-b', 'alice@acme.com', { displayName: 'Alice Smith', attributes: { title: 'Engineer' } });
    const group = (t: TenantCtx, id: string, displayName: string, members: string[]) =>
      t.db.group.create({ data: { id, tenantId: t.id, displayName, displayNameKey: displayName.toLowerCase(), attributes: {}, memberships: { create: members.map((userId) => ({ tenantId: t.id, userId })) } } });
    await group(a, 'g-eng', 'Engineering', ['u-alice']);
    await group(a, 'g-sales', 'Sales', ['u-bob', 'u-alice']);
    await group(a, 'g-empty', 'Empty', []);
    // A membership row of tenant B naming tenant A's carol: never visible to tenant A's filters.
    await group(b, 'g-b', 'Engineering', []);
    await b.db.groupMembership.create({ data: { tenantId: b.id, groupId: 'g-b', userId: 'u-carol' } });
    Object.assign(ids, { eng: 'g-eng', sales: 'g-sales' });
  }, 180_000);
  afterAll(() => db?.close());

  async function select(k: ResourceKind, filter: string, t: TenantCtx = a): Promise<string[]> {
    const c = new FilterCompiler(k, t.id);
    const where = c.compile(parseFilter(filter));
    const table = k.name === 'User' ? '"User"' : '"Group"';
    const rows = (await t.db.$queryRawUnsafe(`SELECT r."id" FROM ${table} r WHERE r."tenantId" = $1 AND ${where} ORDER BY r."id"`, ...c.params)) as { id: string }[];
    return rows.map((r) => r.id);
  }
  const users = (f: string, t?: TenantCtx) => select(userKind, f, t);
  const refused = (f: string, k: ResourceKind = userKind) => {
    try {
      new FilterCompiler(k, a.id).compile(parseFilter(f));
    } catch (err) {
      expect(err).toBeInstanceOf(ScimError);
      expect((err as ScimError).scimType).toBe('invalidFilter');
      return (err as ScimError).message;
    }
    throw new Error(`accepted: ${f}`);
  };

  it('userName (the lower-cased key column): eq/ne/sw/ew/co case-insensitively; ordering in byte order', async () => {
    expect(await users('userName eq "ALICE@acme.COM"')).toEqual(['u-alice']);
    expect(await users('userName ne "alice@acme.com"')).toEqual(['u-bob', 'u-carol']);
    expect(await users('userName sw "AL"')).toEqual(['u-alice']);
    expect(await users('userName ew "@ACME.com"')).toEqual(['u-alice', 'u-bob', 'u-carol']);
    expect(await users('userName co "B@"')).toEqual(['u-bob']);
    expect(await users('userName gt "bob@acme.com"')).toEqual(['u-carol']);
    expect(await users('userName ge "bob@acme.com"')).toEqual(['u-bob', 'u-carol']);
    expect(await users('userName lt "BOB@acme.com"')).toEqual(['u-alice']);
    expect(await users('userName le "bob@acme.com"')).toEqual(['u-alice', 'u-bob']);
    // Another tenant's alice exists with the same name: only the tenant bound as $1 answers.
    expect(await users('userName eq "alice@acme.com"', b)).toEqual(['u-alice-b']);
  });

  it('values travel as parameters: a quote in a value is data', async () => {
    const c = new FilterCompiler(userKind, a.id);
    const sql = c.compile(parseFilter(`userName eq "x' OR '1'='1"`));
    expect(sql).not.toContain("'1'='1");
    expect(c.params).toEqual([a.id, "x' or '1'='1"]);
    expect(await users(`userName eq "x' OR '1'='1"`)).toEqual([]);
    expect(await users(`title eq "x' OR '1'='1"`)).toEqual([]);
  });

  it('LIKE metacharacters in a value match only themselves', async () => {
    expect(await users('title co "%"')).toEqual(['u-bob']);
    expect(await users('title co "_"')).toEqual(['u-bob']);
    expect(await users('title ew "\\\\"')).toEqual(['u-bob']);
    expect(await users('title sw "100%"')).toEqual(['u-bob']);
    expect(await users('title sw "1_0"')).toEqual([]);
  });

  it('displayName (a plain column): case-insensitive in the database; present means non-empty', async () => {
    expect(await users('displayName eq "ALICE SMITH"')).toEqual(['u-alice']);
    expect(await users('displayName pr')).toEqual(['u-alice', 'u-carol']);
    expect(await users('displayName gt "B"')).toEqual(['u-carol']);
    expect(await users('externalId pr')).toEqual(['u-alice']);
    expect(await users('externalId eq "ext-1"')).toEqual(['u-alice']);
    expect(await users('externalId eq "EXT-1"')).toEqual([]); // caseExact
    expect(await users('id eq "u-bob"')).toEqual(['u-bob']);
  });

  it('NOT treats a missing value as "did not match" (SQL NULL folded to false)', async () => {
    expect(await users('not (displayName eq "alice smith")')).toEqual(['u-bob', 'u-carol']);
    expect(await users('not (displayName pr)')).toEqual(['u-bob']);
    expect(await users('displayName ne "alice smith"')).toEqual(['u-bob', 'u-carol']);
    expect(await users('name.givenName ne "alice"')).toEqual(['u-bob', 'u-carol']);
    expect(await users('not (name.givenName eq "alice")')).toEqual(['u-bob', 'u-carol']);
    expect(await users('active ne true')).toEqual(['u-bob']);
  });

  it('and / or', async () => {
    expect(await users('userName sw "a" or userName sw "b"')).toEqual(['u-alice', 'u-bob']);
    expect(await users('active eq true and displayName pr')).toEqual(['u-alice', 'u-carol']);
    expect(await users('active eq true and not (displayName eq "carol")')).toEqual(['u-alice']);
  });

  it('active (a boolean column): eq/ne with true or false only; present is every row', async () => {
    expect(await users('active eq true')).toEqual(['u-alice', 'u-carol']);
    expect(await users('active eq false')).toEqual(['u-bob']);
    expect(await users('active pr')).toEqual(['u-alice', 'u-bob', 'u-carol']);
    expect(refused('active eq "true"')).toBe('active supports only eq/ne with true or false');
    expect(refused('active gt true')).toBe('active supports only eq/ne with true or false');
  });

  it('meta.created / meta.lastModified (timestamp columns): RFC 3339 with eq, gt, ge, lt, le', async () => {
    expect(await users('meta.created gt "2026-02-01T00:00:00Z"')).toEqual(['u-bob']);
    expect(await users('meta.created lt "2026-02-01T01:00:00+01:00"')).toEqual(['u-alice', 'u-carol']);
    expect(await users('meta.created ge "2026-01-15T00:00:00Z"')).toEqual(['u-bob', 'u-carol']);
    expect(await users('meta.created le "2026-01-15T00:00:00Z"')).toEqual(['u-alice', 'u-carol']);
    expect(await users('meta.created eq "2026-01-15T00:00:00.000Z"')).toEqual(['u-carol']);
    expect(await users('meta.lastModified pr')).toEqual(['u-alice', 'u-bob', 'u-carol']);
    const msg = 'meta.created compares with an RFC 3339 date-time using eq, gt, ge, lt or le';
    expect(refused('meta.created co "2026"')).toBe(msg);
    expect(refused('meta.created gt "yesterday"')).toBe(msg);
    expect(refused('meta.created eq 5')).toBe('meta.created compares with a string');
    expect(refused('meta.version eq "1"')).toBe('meta.version cannot be filtered');
  });

  it('single-valued complex: by sub-attribute; present on the whole; a bare comparison refused', async () => {
    expect(await users('name.givenName eq "ALICE"')).toEqual(['u-alice']);
    expect(await users('name.familyName sw "sm"')).toEqual(['u-alice']);
    expect(await users('name pr')).toEqual(['u-alice']);
    expect(refused('name eq "x"')).toBe('"name" is complex; name a sub-attribute');
    expect(await users('name[givenName eq "alice"]')).toEqual(['u-alice']);
  });

  it('multi-valued complex: without a sub-attribute it is `value`; with one, any element; present means non-empty', async () => {
    expect(await users('emails eq "ALICE@acme.com"')).toEqual(['u-alice']);
    expect(await users('emails.value ew "@acme.com"')).toEqual(['u-alice', 'u-bob']);
    expect(await users('emails.type eq "home"')).toEqual(['u-bob']);
    expect(await users('emails.primary eq true')).toEqual(['u-alice']);
    expect(await users('emails pr')).toEqual(['u-alice', 'u-bob']);
    expect(await users('not (emails pr)')).toEqual(['u-carol']);
    expect(await users('title pr')).toEqual(['u-alice', 'u-bob']); // '' is not present
    expect(await users('nickName pr')).toEqual(['u-carol']);
  });

  it('value filters: the whole filter about ONE element', async () => {
    expect(await users('emails[type eq "work" and value ew "@acme.com"]')).toEqual(['u-alice', 'u-bob']);
    expect(await users('emails[type eq "home" and value ew "@acme.com"]')).toEqual([]);
    expect(await users('emails[type eq "work" and primary eq true]')).toEqual(['u-alice']);
    expect(await users('emails[not (type eq "work")]')).toEqual(['u-bob']);
    expect(await users('emails[type eq "work"] and emails[type eq "home"]')).toEqual(['u-bob']);
    expect(refused('emails[foo eq "x"]')).toBe('Unknown sub-attribute "foo" of emails');
    expect(refused('title[value eq "x"]')).toBe('Cannot apply a value filter to "title"');
    expect(refused('displayName[value eq "x"]')).toBe('Cannot apply a value filter to "displayName"');
    expect(refused('emails.value[value eq "x"]')).toBe('Cannot apply a value filter to "emails.value"');
    expect(refused('foo[value eq "x"]')).toBe('Cannot apply a value filter to "foo"');
    expect(refused(`${CUSTOM}:level[code eq "x"]`)).toBe(`Cannot apply a value filter to "${CUSTOM}:level"`);
  });

  it('JSON comparisons: booleans and numbers by JSON equality only; null and binaries refused', async () => {
    expect(await users('title eq 5')).toEqual([]);
    expect(await users('title eq true')).toEqual([]); // a boolean compared by JSON equality, not refused as null
    expect(refused('emails.primary eq "true"')).toBe('emails.primary supports only eq/ne with a boolean value');
    expect(refused('emails.primary gt true')).toBe('emails.primary supports only eq/ne with a boolean value');
    expect(refused('title gt 5')).toBe('title supports only eq/ne with a matching value');
    expect(refused('title eq null')).toBe('title cannot be compared with null; use pr');
    expect(refused('x509Certificates eq "MII"')).toBe('x509Certificates cannot be filtered');
  });

  it('enterprise extension: by URN; caseExact sub-attributes compare exactly', async () => {
    expect(await users(`${ENT}:department eq "r&d"`)).toEqual(['u-alice']);
    expect(await users(`${ENT}:manager.value eq "u-bob"`)).toEqual(['u-alice']);
    expect(await users(`${ENT}:manager.value eq "U-BOB"`)).toEqual([]);
    expect(await users(`${ENT}:manager pr`)).toEqual(['u-alice']);
  });

  it('custom extensions: by URN and name (and sub-name), case-insensitively, names as parameters', async () => {
    expect(await users(`${CUSTOM}:badge eq "b-1"`)).toEqual(['u-alice']);
    expect(await users(`${CUSTOM}:level.code eq "l1"`)).toEqual(['u-alice']);
    expect(await users(`${CUSTOM}:badge pr`)).toEqual(['u-alice']);
    expect(await users(`${CUSTOM}:other pr`)).toEqual([]);
    expect(await users(`urn:example:other:badge pr`)).toEqual([]);
  });

  it('groups of a user / members of a group: by id, bound to the tenant; eq, ne, pr only', async () => {
    expect(await users(`groups eq "${ids.eng}"`)).toEqual(['u-alice']);
    expect(await users(`groups.value eq "${ids.sales}"`)).toEqual(['u-alice', 'u-bob']);
    expect(await users(`groups ne "${ids.eng}"`)).toEqual(['u-bob', 'u-carol']);
    expect(await users('groups pr')).toEqual(['u-alice', 'u-bob']); // carol's membership is tenant B's
    expect(await users('groups eq "g-b"')).toEqual([]);
    expect(refused('groups.display eq "Sales"')).toBe('Only groups.value can be filtered');
    expect(refused('groups co "g"')).toBe('Membership filters support eq, ne and pr with a string id');
    expect(refused('groups eq true')).toBe('Membership filters support eq, ne and pr with a string id');
    expect(await select(groupKind, 'members eq "u-alice"')).toEqual(['g-eng', 'g-sales']);
    expect(await select(groupKind, 'members pr')).toEqual(['g-eng', 'g-sales']);
    expect(await select(groupKind, 'not (members pr)')).toEqual(['g-empty']);
    expect(await select(groupKind, 'members ne "u-bob"')).toEqual(['g-empty', 'g-eng']);
    expect(await select(groupKind, 'displayName eq "ENGINEERING"')).toEqual(['g-eng']);
    expect(await select(groupKind, 'displayName eq "engineering"', b)).toEqual(['g-b']);
  });

  it('unknown attributes and nested value filters are refused', async () => {
    expect(refused('foo eq "x"')).toBe('Unknown attribute "foo"');
    expect(refused('emails[type eq "work" and emails[value pr]]')).toMatch(/Value filters cannot be nested|Unknown/);
  });
});
