import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { projectResource, projectionOf } from '../../src/scim/project-attributes.js';
import { userKind } from '../../src/scim/resource-kinds.js';
import { verifyScimToken } from '../../src/scim/scim-tokens.js';
import type { ScimCtx } from '../../src/scim/scim-context.js';
import { renderUser, type GroupRef } from '../../src/scim/user-resource.js';
import { testDbKinds } from '../support/databases.js';
import { recordStatements, statementLabel } from '../support/record-statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { PATCH_OP, USER, scimTenant, type ScimTenant } from './scim-client.js';

/**
 * The SCIM hot path on prepared statements (src/db/hot-sql.ts): the token check, create, GET by id, the `eq` filter
 * pages and PATCH's read and write. What they answer must be what the Prisma-read row renders to, byte for byte, and
 * every statement binds the tenant: another tenant's user is never read or written.
 */
describe.each(testDbKinds)('SCIM hot statements (%s)', (kind) => {
  let app: TestApp;
  const tz = process.env.TZ;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  const text = async (s: ScimTenant, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${s.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${s.token}`, ...(body !== undefined && { 'content-type': 'application/scim+json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
  };

  /** The user as the Prisma model reads it, rendered and serialised like the route does. */
  const prismaRendered = async (s: ScimTenant, id: string) => {
    const row = (await s.t.db.user.findUnique({ where: { id } }))!;
    const memberships = await s.t.db.groupMembership.findMany({ where: { userId: id }, include: { group: true }, orderBy: { groupId: 'asc' } });
    const groups: GroupRef[] = memberships.map((m) => ({ groupId: m.groupId, displayName: m.group.displayName }));
    return JSON.stringify(projectResource(userKind, renderUser({ baseUrl: s.base } as ScimCtx, row, groups), projectionOf({})));
  };

  it('renders created, read, listed and patched users byte for byte as the Prisma row does (UTC, milliseconds, ETags)', async () => {
    process.env.TZ = 'America/New_York'; // the driver must not read timestamp(3) in the process's zone
    app.clock.set('2026-12-06T23:59:58.123Z'); // a New York evening: local and UTC dates differ
    const s = await scimTenant(app);
    const created = await text(s, 'POST', '/Users', {
      schemas: [USER],
      userName: 'Ann@Example.com',
      externalId: 'ext-ann',
      name: { givenName: 'Ann', familyName: 'Lee' },
      emails: [{ value: 'ann@example.com', type: 'work', primary: true }],
      active: true,
    });
    expect(created.status).toBe(201);
    const id = String(JSON.parse(created.text).id);
    const group = await s.createGroup('Eng', [id]);
    app.clock.advance(1_001);
    const read = await text(s, 'GET', `/Users/${id}`);
    expect(read.text).toBe(await prismaRendered(s, id));
    expect(JSON.parse(read.text).meta).toMatchObject({ created: '2026-12-06T23:59:58.123Z', lastModified: '2026-12-06T23:59:58.123Z', version: 'W/"1"' });
    expect(JSON.parse(read.text).groups).toEqual([{ value: group.id, $ref: `${s.base}/Groups/${group.id}`, display: 'Eng', type: 'direct' }]);
    expect(read.etag).toBe('W/"1"');
    // The create's answer is rendered from what was written, before the group existed: the same but for groups (and
    // the order of keys inside sub-objects, which jsonb stores its own way, as before).
    expect(JSON.parse(created.text)).toEqual({ ...JSON.parse(read.text), groups: undefined });
    for (const f of ['userName eq "ANN@example.com"', 'externalId eq "ext-ann"']) {
      const page = await text(s, 'GET', `/Users?filter=${encodeURIComponent(f)}`);
      expect(JSON.stringify(JSON.parse(page.text).Resources[0])).toBe(read.text);
    }
    const patched = await text(s, 'PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Ann L' }] });
    expect(patched.status).toBe(200);
    expect(patched.etag).toBe('W/"2"');
    expect(patched.text).toBe(await prismaRendered(s, id));
    expect(JSON.parse(patched.text).meta).toMatchObject({ created: '2026-12-06T23:59:58.123Z', lastModified: '2026-12-06T23:59:59.124Z' });
    expect((await text(s, 'GET', `/Users/${id}`)).text).toBe(patched.text);
  });

  it("never reads or writes another tenant's user through the hot statements", async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const bob = await b.createUser('bob@example.com', { externalId: 'ext-bob' });
    expect((await a.call('GET', `/Users/${bob.id}`)).status).toBe(404);
    expect((await a.patch(`/Users/${bob.id}`, [{ op: 'replace', path: 'displayName', value: 'Mallory' }])).status).toBe(404);
    for (const f of ['userName eq "bob@example.com"', 'externalId eq "ext-bob"']) {
      expect((await a.call('GET', `/Users?filter=${encodeURIComponent(f)}`)).body.totalResults).toBe(0);
    }
    // The same userName in tenant A is a new user of A (uniqueness is per tenant), written with A's id.
    const twin = await a.createUser('bob@example.com');
    expect(await a.t.db.user.findUnique({ where: { id: twin.id } })).toMatchObject({ tenantId: a.t.id });
    expect(await b.t.db.user.findUnique({ where: { id: bob.id } })).toMatchObject({ version: 1, displayName: null });
    expect(await b.t.db.auditEvent.count({ where: { action: { startsWith: 'scim.user.' } } })).toBe(1);
  });

  it('checks a token in one statement: lastUsedAt at most once a minute, never for a revoked or foreign token', async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const lastUsed = async () => (await a.t.db.scimToken.findUniqueOrThrow({ where: { id: a.tokenId } })).lastUsedAt?.getTime() ?? null;
    const first = app.clock.now().getTime();
    expect(await verifyScimToken(a.t, a.token, app.clock)).toMatchObject({ id: a.tokenId });
    expect(await lastUsed()).toBe(first);
    app.clock.advance(59_000);
    expect(await verifyScimToken(a.t, a.token, app.clock)).toMatchObject({ id: a.tokenId });
    expect(await lastUsed()).toBe(first); // within the minute: not written again
    app.clock.advance(2_000);
    expect(await verifyScimToken(b.t, a.token, app.clock)).toBeNull(); // A's token on tenant B: not found, not touched
    expect(await lastUsed()).toBe(first);
    expect(await verifyScimToken(a.t, a.token, app.clock)).toMatchObject({ id: a.tokenId });
    expect(await lastUsed()).toBe(first + 61_000);
    await a.t.db.scimToken.update({ where: { id: a.tokenId }, data: { revokedAt: app.clock.now() } });
    app.clock.advance(120_000);
    expect(await verifyScimToken(a.t, a.token, app.clock)).toBeNull();
    expect(await lastUsed()).toBe(first + 61_000);
  });

  it('a rename onto a taken userName is 409 uniqueness with the same body as before', async () => {
    const s = await scimTenant(app);
    await s.createUser('taken@example.com');
    const other = await s.createUser('other@example.com');
    const res = await s.patch(`/Users/${other.id}`, [{ op: 'replace', path: 'userName', value: 'TAKEN@example.com' }]);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness', detail: 'A user with this userName already exists' });
  });

  it('sends each request of the Entra cycle as prepared statements: 1 (GET filter), 1 (POST), 2 (PATCH), 1 (GET by id)', async () => {
    const s = await scimTenant(app);
    const rec = await recordStatements(app);
    /** A request's statements by name; on PostgreSQL each a named prepared statement (no Prisma query, no other SQL). */
    const take = () => {
      const sent = rec.take();
      if (kind === 'postgres') expect(sent.filter((x) => !x.prepared).map(statementLabel)).toEqual([]);
      return sent.map(statementLabel);
    };
    try {
      // A token not yet cached: one statement reads it and refreshes lastUsedAt (was two round trips), after the
      // tenant's own first read (the tenant directory's cache, not SCIM's; itself a prepared statement,
      // src/tenants/find-tenant.ts).
      expect((await s.call('GET', '/ServiceProviderConfig')).status).toBe(200);
      expect(take()).toEqual(['tenant_by_slug', 'scim_verify_token']);
      expect((await s.call('GET', `/Users?filter=${encodeURIComponent('userName eq "new@example.com"')}`)).body.totalResults).toBe(0);
      const get = take();
      const created = await s.createUser('new@example.com');
      const post = take();
      expect((await s.patch(`/Users/${created.id}`, [{ op: 'replace', path: 'active', value: true }, { op: 'replace', path: 'title', value: 'Eng' }])).status).toBe(200);
      const patch = take();
      expect((await s.call('GET', `/Users/${created.id}`)).status).toBe(200);
      const byId = take();
      // Nothing else goes to the database: no Prisma query, no second round trip (the PATCH's notification is sent
      // within its write).
      expect({ get, post, patch, byId }).toEqual({
        get: ['scim_user_page_user_name'],
        post: ['scim_insert_users'],
        patch: ['scim_select_user', 'scim_update_user_notify'],
        byId: ['scim_select_user'],
      });
    } finally {
      rec.stop();
    }
  });
});
