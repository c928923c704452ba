import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, connect, type FakeVerifier } from '../mcp/support.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { FULL_RESYNC_MS, syncDueDirectories } from '../../src/connectors/run-directory-sync.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { FakeDirectoryUser, GoogleFake } from './support/google-fake.js';
import { useGoogleApp } from './support/google-env.js';

describe.each(testDbKinds)('Google directory sync (%s)', (kind) => {
  let app: TestApp;
  let verifier: FakeVerifier;
  let google: GoogleFake;
  useGoogleApp(kind, (a, v, g) => {
    app = a;
    verifier = v;
    google = g;
  });

  const user = (id: string, email: string, over: Partial<FakeDirectoryUser> = {}): FakeDirectoryUser => ({ id, primaryEmail: email, name: { fullName: id.toUpperCase(), givenName: id, familyName: 'Acme' }, ...over });

  /** A tenant with a Google connector; the fake directory reset to three users and two groups. */
  async function setup(provisioning: 'scim' | 'directory-sync' = 'directory-sync') {
    const t = await app.createTenant();
    const sa = google.serviceAccount(t.slug);
    google.delegate(sa.clientId, allGoogleScopes());
    google.users.add('admin@acme.com');
    google.directory.length = 0;
    google.groups.length = 0;
    google.directory.push(user('u1', 'ann@acme.com', { organizations: [{ title: 'Engineer', primary: true }] }), user('u2', 'ben@acme.com'), user('u3', 'cid@acme.com'), user('x1', 'ext@partner.example'));
    google.groups.push({ id: 'g1', email: 'eng@acme.com', name: 'Engineering', members: ['u1', 'u2', 'x1'] }, { id: 'g2', email: 'sales@acme.com', name: 'Sales', members: ['u3'] });
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    await cli(app, 'tenant settings', { tenant: t.slug, provisioning });
    // Re-read: the settings changed after the context was made.
    return { t: (await findTenantBySlug(app.services.db, t.slug))! };
  }

  const state = async (t: TenantCtx) => {
    const users = await t.db.user.findMany({ orderBy: { userNameKey: 'asc' }, select: { userNameKey: true, active: true, displayName: true, externalId: true } });
    const groups = await t.db.group.findMany({ orderBy: { displayNameKey: 'asc' }, include: { memberships: { include: { user: { select: { userNameKey: true } } } } } });
    return { users, groups: groups.map((g) => ({ name: g.displayName, members: g.memberships.map((m) => m.user.userNameKey).sort() })) };
  };

  it('dry-run reports the changes without making them; applying needs provisioning = directory-sync', async () => {
    const { t } = await setup('scim');
    const dry = await cli(app, 'connector sync-directory', { tenant: t.slug, 'dry-run': true });
    expect(dry).toMatchObject({ dryRun: true, users: 4, groups: 2, errors: 0 });
    expect(dry.changes).toEqual([
      { op: 'create', kind: 'user', name: 'ann@acme.com' },
      { op: 'create', kind: 'user', name: 'ben@acme.com' },
      { op: 'create', kind: 'user', name: 'cid@acme.com' },
      { op: 'create', kind: 'group', name: 'Engineering', membersAdded: 2 },
      { op: 'create', kind: 'group', name: 'Sales', membersAdded: 1 },
    ]);
    expect(await t.db.user.count()).toBe(0);
    await expect(cli(app, 'connector sync-directory', { tenant: t.slug })).rejects.toThrow(/provisioned by SCIM/);
    const settings = await cli(app, 'tenant settings', { tenant: t.slug });
    expect(settings.settings).toMatchObject({ provisioning: 'scim' });
    await expect(cli(app, 'tenant settings', { tenant: t.slug, provisioning: 'both' })).rejects.toThrow(/scim or directory-sync/);
  });

  it('creates users and groups with members across pages, only of the connector domains; a second run changes nothing; SCIM writes are refused', async () => {
    const { t } = await setup();
    const report = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(report).toMatchObject({ dryRun: false, errors: 0 });
    expect(await state(t)).toEqual({
      users: [
        { userNameKey: 'ann@acme.com', active: true, displayName: 'U1', externalId: 'u1' },
        { userNameKey: 'ben@acme.com', active: true, displayName: 'U2', externalId: 'u2' },
        { userNameKey: 'cid@acme.com', active: true, displayName: 'U3', externalId: 'u3' },
      ],
      groups: [
        { name: 'Engineering', members: ['ann@acme.com', 'ben@acme.com'] },
        { name: 'Sales', members: ['cid@acme.com'] },
      ],
    });
    // Pages of 2: users, groups and members were each followed through nextPageToken, as the admin.
    const dirCalls = google.apiRequests.filter((r) => r.path.startsWith('/admin/directory'));
    expect(dirCalls.every((r) => r.sub === 'admin@acme.com')).toBe(true);
    expect(dirCalls.filter((r) => r.path === '/admin/directory/v1/users').length).toBeGreaterThanOrEqual(2);
    expect((await cli(app, 'connector sync-directory', { tenant: t.slug })).changes).toEqual([]);
    const listed = (await cli(app, 'connector list', { tenant: t.slug })).connectors as { lastSync: unknown; lastSyncAt: unknown }[];
    expect(listed[0]).toMatchObject({ lastSync: { users: 4, created: 0, errors: 0 } });

    const scim = await createScimToken(t, app.url);
    const res = await fetch(`${app.url}/t/${t.slug}/scim/v2/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'sneaky@acme.com' }),
    });
    expect(res.status).toBe(409);
    const auth = { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' };
    const ann = (await t.db.user.findFirst({ where: { userNameKey: 'ann@acme.com' } }))!;
    const group = (await t.db.group.findFirst({ where: { displayNameKey: 'engineering' } }))!;
    // Every kind of SCIM write is refused (an IdP cannot deactivate, rename or delete what the directory owns)…
    for (const [method, path, body] of [
      ['PATCH', `Users/${ann.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }],
      ['PUT', `Users/${ann.id}`, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ann@acme.com', active: false }],
      ['DELETE', `Users/${ann.id}`, undefined],
      ['POST', 'Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Shadow' }],
      ['PATCH', `Groups/${group.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: 'members' }] }],
      ['DELETE', `Groups/${group.id}`, undefined],
    ] as const) {
      const r = await fetch(`${app.url}/t/${t.slug}/scim/v2/${path}`, { method, headers: auth, ...(body && { body: JSON.stringify(body) }) });
      expect(r.status, `${method} ${path}`).toBe(409);
      expect(((await r.json()) as { detail: string }).detail).toMatch(/directory sync/);
    }
    expect(await state(t)).toMatchObject({ users: [{ userNameKey: 'ann@acme.com', active: true }, {}, {}], groups: [{ name: 'Engineering', members: ['ann@acme.com', 'ben@acme.com'] }, {}] });
    // …while reads, including POST /.search (RFC 7644 §3.4.3), still work.
    expect((await fetch(`${app.url}/t/${t.slug}/scim/v2/Users`, { headers: { authorization: `Bearer ${scim.token}` } })).status).toBe(200);
    const search = await fetch(`${app.url}/t/${t.slug}/scim/v2/Users/.search`, { method: 'POST', headers: auth, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName eq "ann@acme.com"' }) });
    expect(search.status).toBe(200);
    expect(((await search.json()) as { totalResults: number }).totalResults).toBe(1);
    // Back to SCIM: the IdP may write again, and a real directory sync is refused (one source of truth either way).
    await cli(app, 'tenant settings', { tenant: t.slug, provisioning: 'scim' });
    const t2 = (await findTenantBySlug(app.services.db, t.slug))!;
    expect((await fetch(`${app.url}/t/${t.slug}/scim/v2/Users`, { method: 'POST', headers: auth, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'pushed@acme.com' }) })).status).toBe(201);
    await expect(cli(app, 'connector sync-directory', { tenant: t2.slug })).rejects.toThrow(/provisioned by SCIM/);
  });

  it('a user suspended in Google loses MCP access at the next request after the sync; membership changes and deletions follow', async () => {
    const { t } = await setup();
    await cli(app, 'connector sync-directory', { tenant: t.slug });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'whoami', group: ['Engineering'] });
    const ann = (await t.db.user.findFirst({ where: { userNameKey: 'ann@acme.com' } }))!;
    const { client } = await connect(app, t, verifier.issue(t, ann.id));
    expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ groups: ['Engineering'] });

    google.directory.find((u) => u.id === 'u1')!.suspended = true;
    google.groups.find((g) => g.id === 'g1')!.members = ['u1'];
    google.directory.splice(google.directory.findIndex((u) => u.id === 'u3'), 1);
    const report = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(report.changes).toEqual([
      { op: 'deactivate', kind: 'user', name: 'ann@acme.com' },
      { op: 'update', kind: 'group', name: 'Engineering', membersAdded: 0, membersRemoved: 1 },
      { op: 'update', kind: 'group', name: 'Sales', membersAdded: 0, membersRemoved: 1 },
      { op: 'delete', kind: 'user', name: 'cid@acme.com' },
    ]);
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow();
    const revoked = await t.db.auditEvent.findFirst({ where: { action: 'user.revoke', targetId: ann.id } });
    expect(revoked?.detail).toMatchObject({ reason: 'scim.deactivated' });
    expect(await state(t)).toMatchObject({
      users: [{ userNameKey: 'ann@acme.com', active: false }, { userNameKey: 'ben@acme.com', active: true }],
      groups: [{ name: 'Engineering', members: ['ann@acme.com'] }, { name: 'Sales', members: [] }],
    });
    await client.close().catch(() => undefined);
  });

  it('a directory group named like an existing group never takes over its members or tool grants', async () => {
    const { t } = await setup();
    await cli(app, 'connector sync-directory', { tenant: t.slug });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'whoami', group: ['Engineering'] });
    const original = (await t.db.group.findFirst({ where: { externalId: 'g1' } }))!;
    // Cid creates a group of the same name in Google, with themselves in it, sorted first.
    google.groups.unshift({ id: 'g9', email: 'a-eng@acme.com', name: 'ENGINEERING', members: ['u3'] });
    for (let run = 0; run < 2; run++) {
      const report = await cli(app, 'connector sync-directory', { tenant: t.slug });
      expect(report.errors).toBe(0);
      const kept = (await t.db.group.findUnique({ where: { id: original.id }, include: { memberships: { include: { user: true } } } }))!;
      expect(kept.externalId).toBe('g1');
      expect(kept.memberships.map((m) => m.user.userNameKey).sort()).toEqual(['ann@acme.com', 'ben@acme.com']);
    }
    // A group of its own (displayName is not unique in SCIM), with no grant; Cid still cannot call the tool.
    const theirs = (await t.db.group.findFirst({ where: { externalId: 'g9' }, include: { memberships: true } }))!;
    expect(theirs.id).not.toBe(original.id);
    const cid = (await t.db.user.findFirst({ where: { userNameKey: 'cid@acme.com' } }))!;
    const { client } = await connect(app, t, verifier.issue(t, cid.id));
    expect((await client.listTools()).tools.map((x) => x.name)).not.toContain('whoami');
    await client.close().catch(() => undefined);
  });

  it('adopts a group no directory owns (Okta Group Push sends no externalId) by its name — unless two directory groups have that name', async () => {
    const { t } = await setup();
    const pushed = (id: string, name: string) => t.db.group.create({ data: { id, tenantId: t.id, displayName: name, displayNameKey: name.toLowerCase(), source: 'scim' } });
    const sales = await pushed('grp_pushed_sales', 'Sales');
    const ops = await pushed('grp_pushed_ops', 'Ops');
    google.groups.push({ id: 'g7', email: 'ops1@acme.com', name: 'Ops', members: ['u1'] }, { id: 'g8', email: 'ops2@acme.com', name: 'Ops', members: ['u2'] });
    await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect((await t.db.group.findUnique({ where: { id: sales.id } }))?.externalId).toBe('g2');
    // Ambiguous: neither Google "Ops" group takes the pushed one; each becomes a group of its own.
    expect((await t.db.group.findUnique({ where: { id: ops.id } }))?.externalId).toBeNull();
    expect(await t.db.group.count({ where: { externalId: { in: ['g7', 'g8'] } } })).toBe(2);
  });

  it('an outage mid-run or an empty listing changes nothing', async () => {
    const { t } = await setup();
    await cli(app, 'connector sync-directory', { tenant: t.slug });
    const before = await state(t);
    google.directory.find((u) => u.id === 'u2')!.suspended = true;
    google.failures.push({ prefix: '/admin/directory/v1/groups', status: 503, reason: 'backendError', count: 10 });
    await expect(cli(app, 'connector sync-directory', { tenant: t.slug })).rejects.toThrow(/unavailable/);
    google.failures.length = 0;
    expect(await state(t)).toEqual(before);

    const saved = google.directory.splice(0);
    await expect(cli(app, 'connector sync-directory', { tenant: t.slug })).rejects.toThrow(/listed no users/);
    google.directory.push(...saved);
    expect(await state(t)).toEqual(before);
    expect(await t.db.auditEvent.count({ where: { action: 'connector.directory.sync', outcome: 'failure' } })).toBe(2);
  });

  const dirRequests = () => google.apiRequests.filter((r) => r.path.startsWith('/admin/directory')).length;

  it('an unchanged directory answers 304 to every page (If-None-Match): nothing is compared or written; a change is read and reconciled', async () => {
    const { t } = await setup();
    const first = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(first.reads).toMatchObject({ full: true, notModified: 0 });
    const seen = google.notModified.length;
    const notModified = () => google.notModified.slice(seen);
    const before = await state(t);
    const touched = await t.db.user.findMany({ select: { userNameKey: true, updatedAt: true }, orderBy: { userNameKey: 'asc' } });
    const audits = await t.db.auditEvent.count();

    const requests = dirRequests();
    const again = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(again).toMatchObject({ unchanged: true, changes: [], errors: 0, users: 4, groups: 2 });
    // Users (2 pages), groups (1), members of Engineering (2) and Sales (1): every page asked with its ETag, all 304.
    expect(again.reads).toEqual({ full: false, requests: 6, notModified: 6 });
    expect(dirRequests() - requests).toBe(6);
    expect(notModified().filter((p) => p === '/admin/directory/v1/users')).toHaveLength(2);
    expect(notModified().filter((p) => p.endsWith('/members'))).toHaveLength(3);
    expect(await state(t)).toEqual(before);
    expect(await t.db.user.findMany({ select: { userNameKey: true, updatedAt: true }, orderBy: { userNameKey: 'asc' } })).toEqual(touched);
    // Only the run's own audit event: no SCIM-store write happened.
    expect((await t.db.auditEvent.findMany({ where: {}, orderBy: { seq: 'asc' }, skip: audits })).map((e) => e.action)).toEqual(['connector.directory.sync']);
    const listed = (await cli(app, 'connector list', { tenant: t.slug })).connectors as { lastSync: Record<string, unknown> }[];
    expect(listed[0]!.lastSync).toMatchObject({ users: 4, unchanged: true });
    expect(listed[0]!.lastSync).not.toHaveProperty('state');

    // Ben suspended (second users page) and a new member of Sales: those pages answer 200, the others still 304.
    google.directory.find((u) => u.id === 'u2')!.suspended = true;
    google.groups.find((g) => g.id === 'g2')!.members.push('u1');
    const before304 = google.notModified.length;
    const changed = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(changed.changes).toEqual([
      { op: 'deactivate', kind: 'user', name: 'ben@acme.com' },
      { op: 'update', kind: 'group', name: 'Sales', membersAdded: 1, membersRemoved: 0 },
    ]);
    const reads = changed.reads as { full: boolean; requests: number; notModified: number };
    expect(reads).toMatchObject({ full: false, requests: 6 });
    expect(reads.notModified).toBeGreaterThan(0);
    expect(reads.notModified).toBeLessThan(6);
    expect(google.notModified.length - before304).toBe(reads.notModified);
    expect(await state(t)).toMatchObject({
      users: [{ userNameKey: 'ann@acme.com', active: true }, { userNameKey: 'ben@acme.com', active: false }, { userNameKey: 'cid@acme.com', active: true }],
      groups: [{ name: 'Engineering', members: ['ann@acme.com', 'ben@acme.com'] }, { name: 'Sales', members: ['ann@acme.com', 'cid@acme.com'] }],
    });
    // A dry run previews against a full read.
    expect((await cli(app, 'connector sync-directory', { tenant: t.slug, 'dry-run': true })).reads).toMatchObject({ full: true, notModified: 0 });
    // The ETags are the connector's: another tenant's first run against the same directory reads in full.
    const other = await setup();
    expect((await cli(app, 'connector sync-directory', { tenant: other.t.slug })).reads).toMatchObject({ full: true, notModified: 0 });
  });

  it('reads everything again once FULL_RESYNC_MS has passed since the last full read, repairing drift the ETags cannot show', async () => {
    const { t } = await setup();
    await cli(app, 'connector sync-directory', { tenant: t.slug });
    // Drift on our side that Google's ETags cannot reveal (e.g. a manual change in the database).
    await t.db.user.updateMany({ where: { userNameKey: 'cid@acme.com' }, data: { active: false } });
    app.clock.advance(FULL_RESYNC_MS - 60_000);
    const within = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(within).toMatchObject({ unchanged: true, reads: { full: false, notModified: 6 } });
    app.clock.advance(60_000);
    const full = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(full.reads).toMatchObject({ full: true, notModified: 0 });
    expect(full.changes).toEqual([{ op: 'reactivate', kind: 'user', name: 'cid@acme.com' }]);
    expect((await state(t)).users.find((u) => u.userNameKey === 'cid@acme.com')).toMatchObject({ active: true });
    // The full read starts a new interval: the next run is conditional again.
    expect((await cli(app, 'connector sync-directory', { tenant: t.slug })).reads).toMatchObject({ full: false, notModified: 6 });
  });

  it('a run with a failed item is never the base of a conditional one (the item is retried by a full read)', async () => {
    const { t } = await setup();
    // Two Google ids with one e-mail (a rename mid-listing): the second create clashes on userName.
    google.directory.push(user('u4', 'ann@acme.com'));
    const first = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(first.errors).toBeGreaterThan(0);
    const next = await cli(app, 'connector sync-directory', { tenant: t.slug });
    expect(next.reads).toMatchObject({ full: true, notModified: 0 });
  });

  it('the scheduled job syncs tenants provisioned by directory sync when their interval has elapsed, and never touches another tenant', async () => {
    const { t } = await setup();
    const scimTenant = await setup('scim');
    await syncDueDirectories(app.services);
    expect(await t.db.user.count()).toBe(3);
    expect(await scimTenant.t.db.user.count()).toBe(0);
    google.directory.push(user('u9', 'new@acme.com'));
    app.clock.advance(5 * 60_000);
    await syncDueDirectories(app.services);
    expect(await t.db.user.count()).toBe(3);
    app.clock.advance(10 * 60_000);
    await syncDueDirectories(app.services);
    expect(await t.db.user.count()).toBe(4);
    expect(await scimTenant.t.db.user.count()).toBe(0);

    // The interval is the tenant's own (tenant settings), visible there with the provisioning source.
    await expect(cli(app, 'tenant settings', { tenant: t.slug, 'directory-sync-interval': '4' })).rejects.toThrow(/at least 5/);
    await expect(cli(app, 'tenant settings', { tenant: t.slug, 'directory-sync-interval': 'soon' })).rejects.toThrow(/directory sync interval/);
    const set = await cli(app, 'tenant settings', { tenant: t.slug, 'directory-sync-interval': '60' });
    expect(set.settings).toMatchObject({ provisioning: 'directory-sync', directorySyncIntervalMinutes: 60 });
    expect((await cli(app, 'tenant settings', { tenant: scimTenant.t.slug })).settings).toMatchObject({ provisioning: 'scim', directorySyncIntervalMinutes: 15 });
    google.directory.push(user('u10', 'newer@acme.com'));
    app.clock.advance(30 * 60_000);
    await syncDueDirectories(app.services);
    expect(await t.db.user.count()).toBe(4);
    app.clock.advance(30 * 60_000);
    await syncDueDirectories(app.services);
    expect(await t.db.user.count()).toBe(5);
  });
});
