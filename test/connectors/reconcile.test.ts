import { describe, expect, it } from 'vitest';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { reconcileDueTenants } from '../../src/connectors/reconcile/run-reconcile.js';
import { lastReconcileRun, startRun } from '../../src/connectors/reconcile/reconcile-runs.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { newId } from '../../src/lib/ids.js';
import { cli, connect, type FakeVerifier } from '../mcp/support.js';
import { scimTenant, type ScimTenant } from '../scim/scim-client.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import type { FakeDirectoryUser, GoogleFake } from './support/google-fake.js';
import { useGoogleApp } from './support/google-env.js';

describe.each(testDbKinds)('Reconciliation with the directory (%s)', (kind) => {
  let app: TestApp;
  let verifier: FakeVerifier;
  let google: GoogleFake;
  useGoogleApp(kind, (a, v, g) => {
    app = a;
    verifier = v;
    google = g;
  });

  const dirUser = (id: string, email: string, over: Partial<FakeDirectoryUser> = {}): FakeDirectoryUser => ({ id, primaryEmail: email, name: { fullName: id.toUpperCase() }, ...over });

  /**
   * A tenant provisioned by SCIM (the IdP pushed four users with the directory's ids as externalId, and two groups),
   * with a Google connector reading the same directory. The shared fake directory is reset to match.
   */
  async function setup(): Promise<{ scim: ScimTenant; t: TenantCtx; ids: Record<string, string> }> {
    const scim = await scimTenant(app);
    const slug = scim.t.slug;
    const sa = google.serviceAccount(slug);
    google.delegate(sa.clientId, allGoogleScopes());
    google.users.add('admin@acme.com');
    google.directory.length = 0;
    google.groups.length = 0;
    google.failures.length = 0;
    google.directory.push(dirUser('u1', 'ann@acme.com'), dirUser('u2', 'ben@acme.com'), dirUser('u3', 'cid@acme.com'), dirUser('u4', 'dee@acme.com'), dirUser('x1', 'pat@partner.example'));
    google.groups.push({ id: 'g1', email: 'eng@acme.com', name: 'Engineering', members: ['u1', 'u2'] }, { id: 'g2', email: 'sales@acme.com', name: 'Sales', members: ['u3', 'u4'] });
    await cli(app, 'connector add-google', { tenant: slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    const ids: Record<string, string> = {};
    for (const [ext, name] of [['u1', 'ann'], ['u2', 'ben'], ['u3', 'cid'], ['u4', 'dee']] as const) {
      ids[name] = (await scim.createUser(`${name}@acme.com`, { externalId: ext, emails: [{ value: `${name}@acme.com`, primary: true }] })).id;
    }
    await scim.createGroup('Engineering', [ids.ann!, ids.ben!]);
    await scim.createGroup('Sales', [ids.cid!, ids.dee!]);
    return { scim, t: (await findTenantBySlug(app.services.db, slug))!, ids };
  }

  const state = async (t: TenantCtx) => {
    const users = await t.db.user.findMany({ orderBy: { userNameKey: 'asc' }, select: { userNameKey: true, active: true } });
    const groups = await t.db.group.findMany({ orderBy: { displayNameKey: 'asc' }, include: { memberships: { include: { user: { select: { userNameKey: true } } } } } });
    return { users, groups: groups.map((g) => ({ name: g.displayName, members: g.memberships.map((m) => m.user.userNameKey).sort() })) };
  };
  const audits = async (t: TenantCtx, action: string) => {
    await app.services.audit.flush();
    return t.db.auditEvent.findMany({ where: { action }, orderBy: { seq: 'asc' } });
  };
  const reconcile = (t: TenantCtx, opts: Record<string, boolean> = {}) => cli(app, 'reconcile', { tenant: t.slug, ...opts });

  it('a deprovision SCIM never delivered is caught: the user is deactivated, their MCP token stops working at once, audited with the evidence', async () => {
    const { t, ids } = await setup();
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'whoami', group: ['Engineering'] });
    const { client } = await connect(app, t, verifier.issue(t, ids.ann!));
    expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ groups: ['Engineering'] });
    const { client: ben } = await connect(app, t, verifier.issue(t, ids.ben!));

    // Ann was suspended in the IdP while provisioning was off: no PATCH active=false ever arrived.
    google.directory.find((u) => u.id === 'u1')!.suspended = true;
    const report = await reconcile(t);
    expect(report).toMatchObject({ status: 'applied', source: 'google', dryRun: false, errors: 0, guard: { limit: 1, deactivations: 1, held: false } });
    expect(report.changes).toEqual([
      { op: 'deactivate', userId: ids.ann, userName: 'ann@acme.com', reason: 'inactive-in-directory', evidence: { directoryId: 'u1', matchedBy: 'externalId', active: false, status: 'suspended' }, result: 'applied' },
    ]);
    // Access ends before the command returns: the next MCP request is refused.
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow();
    expect((await ben.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ groups: ['Engineering'] });
    expect((await state(t)).users).toEqual([
      { userNameKey: 'ann@acme.com', active: false },
      { userNameKey: 'ben@acme.com', active: true },
      { userNameKey: 'cid@acme.com', active: true },
      { userNameKey: 'dee@acme.com', active: true },
    ]);

    const [deactivated] = await audits(t, 'reconcile.user.deactivate');
    expect(deactivated).toMatchObject({ actorKind: 'system', actorId: 'reconcile', targetId: ids.ann, outcome: 'success' });
    expect(deactivated!.detail).toMatchObject({ source: 'reconcile', runId: report.runId, reason: 'inactive-in-directory', evidence: { directoryId: 'u1', status: 'suspended', active: false }, changed: ['active'] });
    const [revoked] = await audits(t, 'user.revoke');
    expect(revoked).toMatchObject({ actorId: 'reconcile', targetId: ids.ann, detail: { reason: 'reconcile.deactivated' } });
    expect((await audits(t, 'reconcile.run')).map((e) => [e.outcome, (e.detail as { runId: string }).runId])).toEqual([['success', report.runId]]);
    // The partner-domain directory user is outside the connector's domains: neither missing nor created.
    expect((report.drift as { missingUsers: unknown[] }).missingUsers).toEqual([]);

    // A user gone from the directory altogether is deactivated too; a second run then changes nothing.
    google.directory.splice(google.directory.findIndex((u) => u.id === 'u4'), 1);
    google.groups.find((g) => g.id === 'g2')!.members = ['u3'];
    const gone = await reconcile(t);
    expect(gone.changes).toEqual([expect.objectContaining({ op: 'deactivate', userName: 'dee@acme.com', reason: 'not-in-directory', evidence: { listed: false, usersListed: 4, lookedFor: { externalId: 'u4', userName: 'dee@acme.com', email: 'dee@acme.com' } }, result: 'applied' })]);
    expect((await reconcile(t)).changes).toEqual([]);
    await client.close().catch(() => undefined);
    await ben.close().catch(() => undefined);
  });

  it('a membership the IdP no longer has is removed, and the tool granted through that group is gone at once', async () => {
    const { t, ids } = await setup();
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'whoami', group: ['Engineering'] });
    const { client } = await connect(app, t, verifier.issue(t, ids.ben!));
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('whoami');

    google.groups.find((g) => g.id === 'g1')!.members = ['u1'];
    const report = await reconcile(t);
    expect(report.changes).toEqual([
      {
        op: 'remove-membership',
        userId: ids.ben,
        userName: 'ben@acme.com',
        groupId: expect.any(String),
        group: 'Engineering',
        evidence: { directoryGroupId: 'g1', directoryGroup: 'Engineering', membersListed: 1, directoryUserId: 'u2', member: false },
        result: 'applied',
      },
    ]);
    expect((await client.listTools()).tools.map((x) => x.name)).not.toContain('whoami');
    const call = await client.callTool({ name: 'whoami', arguments: {} }).catch((err: Error) => ({ isError: true, message: err.message }));
    expect(call.isError).toBe(true);
    expect((await state(t)).groups.find((g) => g.name === 'Engineering')!.members).toEqual(['ann@acme.com']);
    // Ben keeps his account: only the membership went.
    expect((await state(t)).users.find((u) => u.userNameKey === 'ben@acme.com')!.active).toBe(true);
    const [removed] = await audits(t, 'reconcile.group.member.remove');
    expect(removed).toMatchObject({ actorId: 'reconcile', targetId: ids.ben, detail: { source: 'reconcile', group: 'Engineering', evidence: { directoryGroupId: 'g1', membersListed: 1 } } });
    await client.close().catch(() => undefined);
  });

  it('the mass-deactivation guard holds a run that would deactivate too many (nothing changes, the run is reported), --confirm applies it', async () => {
    const { t } = await setup();
    const before = await state(t);
    google.directory.find((u) => u.id === 'u1')!.suspended = true;
    google.directory.find((u) => u.id === 'u2')!.suspended = true;
    const held = await reconcile(t);
    expect(held).toMatchObject({ status: 'held', guard: { limit: 1, deactivations: 2, held: true, reason: expect.stringMatching(/deactivate 2 users, more than the limit of 1/) } });
    expect((held.changes as unknown[]).length).toBe(2);
    expect(await state(t)).toEqual(before);
    expect(await audits(t, 'reconcile.user.deactivate')).toEqual([]);
    expect((await audits(t, 'reconcile.run')).map((e) => e.outcome)).toEqual(['denied']);
    const last = await cli(app, 'reconcile', { tenant: t.slug, last: true });
    expect(last.last).toMatchObject({ id: held.runId, status: 'held', trigger: 'cli', source: 'google', summary: { guard: { held: true }, planned: { deactivate: 2 }, applied: null } });
    const listed = (await cli(app, 'connector list', { tenant: t.slug })).connectors as Record<string, unknown>[];
    expect(listed[0]).toMatchObject({ lastReconcile: { id: held.runId, status: 'held' } });

    const confirmed = await reconcile(t, { confirm: true });
    expect(confirmed).toMatchObject({ status: 'applied', errors: 0, guard: { held: true } });
    expect((await state(t)).users.filter((u) => !u.active).map((u) => u.userNameKey)).toEqual(['ann@acme.com', 'ben@acme.com']);
    expect((await audits(t, 'reconcile.run')).at(-1)).toMatchObject({ outcome: 'success', detail: { confirmed: expect.stringMatching(/limit of 1/) } });
    expect((await cli(app, 'reconcile', { tenant: t.slug, last: true })).last).toMatchObject({ id: confirmed.runId, status: 'applied', summary: { applied: { deactivated: 2 } } });

    // Raising the limit per tenant lets such a run through without --confirm.
    const other = await setup();
    await cli(app, 'tenant settings', { tenant: other.t.slug, 'reconcile-max-percent': '50' });
    google.directory.find((u) => u.id === 'u1')!.suspended = true;
    google.directory.find((u) => u.id === 'u2')!.suspended = true;
    const t2 = (await findTenantBySlug(app.services.db, other.t.slug))!;
    expect(await reconcile(t2)).toMatchObject({ status: 'applied', guard: { limit: 2, held: false } });
    await expect(cli(app, 'tenant settings', { tenant: t2.slug, 'reconcile-max-percent': '150' })).rejects.toThrow(/from 0 to 100/);
    await expect(cli(app, 'tenant settings', { tenant: t2.slug, 'reconcile-max-count': '-1' })).rejects.toThrow(/number/);
    await expect(cli(app, 'tenant settings', { tenant: t2.slug, 'reconcile-create-missing': 'maybe' })).rejects.toThrow(/on or off/);
    await expect(cli(app, 'tenant settings', { tenant: t2.slug, 'reconcile-source': 'ldap' })).rejects.toThrow(/okta, microsoft, google or auto/);
    await expect(cli(app, 'tenant settings', { tenant: t2.slug, 'reconcile-interval': '1' })).rejects.toThrow(/from 5 to/);
    // A source the tenant has no connector for is refused, not silently replaced by another directory.
    await cli(app, 'tenant settings', { tenant: t2.slug, 'reconcile-source': 'okta' });
    await expect(reconcile((await findTenantBySlug(app.services.db, t2.slug))!)).rejects.toThrow(/reconcile source is okta/);
  });

  it('an IdP outage mid-run, or a listing with no users, changes nothing and is recorded as a failed run', async () => {
    const { t } = await setup();
    const before = await state(t);
    google.directory.find((u) => u.id === 'u1')!.suspended = true;
    google.groups.find((g) => g.id === 'g1')!.members = [];
    // Users and groups read fine; the second group's members fail (after the first group's were read).
    google.failures.push({ prefix: '/admin/directory/v1/groups/g2/members', status: 503, reason: 'backendError', count: 20 });
    await expect(reconcile(t)).rejects.toThrow(/Reading the google directory failed.*nothing was changed/);
    google.failures.length = 0;
    expect(await state(t)).toEqual(before);
    expect((await cli(app, 'reconcile', { tenant: t.slug, last: true })).last).toMatchObject({ status: 'failed', error: expect.stringMatching(/Reading the google directory failed/) });

    const saved = google.directory.splice(0);
    await expect(reconcile(t, { confirm: true })).rejects.toThrow(/listed no users; nothing was changed/);
    google.directory.push(...saved);
    expect(await state(t)).toEqual(before);
    expect((await audits(t, 'reconcile.run')).map((e) => e.outcome)).toEqual(['failure', 'failure']);
    // The lock was released: the next run applies what the directory says.
    expect(await reconcile(t)).toMatchObject({ status: 'applied', guard: { deactivations: 1, membershipLosses: 1 } });
  });

  it('a dry run reports the diff and changes nothing; missing users are reported, and created only when the tenant opts in', async () => {
    const { t } = await setup();
    // An account an admin created here (not by the IdP).
    await t.db.user.create({ data: { id: newId('usr'), tenantId: t.id, userName: 'breakglass@acme.com', userNameKey: 'breakglass@acme.com', email: 'breakglass@acme.com', source: 'manual' } });
    google.directory.find((u) => u.id === 'u3')!.suspended = true;
    google.directory.push(dirUser('u5', 'eve@acme.com'));
    google.groups.find((g) => g.id === 'g1')!.members.push('u5');
    const before = await state(t);
    const dry = await reconcile(t, { 'dry-run': true });
    expect(dry).toMatchObject({ status: 'dry-run', runId: null, dryRun: true, changes: [expect.objectContaining({ op: 'deactivate', userName: 'cid@acme.com' })] });
    expect(dry.drift).toMatchObject({ missingUsers: [{ userName: 'eve@acme.com', directoryId: 'u5' }], manualNotInDirectory: [{ userName: 'breakglass@acme.com' }] });
    expect(await state(t)).toEqual(before);
    expect(await t.db.reconcileRun.count()).toBe(0);
    await expect(reconcile(t, { 'dry-run': true, confirm: true })).rejects.toThrow(/exclude each other/);

    await cli(app, 'tenant settings', { tenant: t.slug, 'reconcile-create-missing': 'on' });
    const t2 = (await findTenantBySlug(app.services.db, t.slug))!;
    const applied = await reconcile(t2);
    expect((applied.changes as { op: string; userName: string; result: string }[]).map((c) => [c.op, c.userName, c.result])).toEqual([
      ['deactivate', 'cid@acme.com', 'applied'],
      ['create-user', 'eve@acme.com', 'applied'],
    ]);
    const eve = await t2.db.user.findFirst({ where: { userNameKey: 'eve@acme.com' } });
    expect(eve).toMatchObject({ externalId: 'u5', active: true });
    expect((await state(t2)).groups.find((g) => g.name === 'Engineering')!.members).toEqual(['ann@acme.com', 'ben@acme.com', 'eve@acme.com']);
    expect((await audits(t2, 'scim.user.create')).at(-1)).toMatchObject({ actorId: 'reconcile', detail: { source: 'reconcile', evidence: { directoryId: 'u5', active: true } } });
    // The admin's break-glass account is never deactivated for being unknown to the IdP.
    expect((await state(t2)).users.find((u) => u.userNameKey === 'breakglass@acme.com')!.active).toBe(true);
  });

  it('stays inside its tenant: another tenant with the same directory ids and names is untouched, and sees only its own runs', async () => {
    const a = await setup();
    const b = await setup();
    const beforeB = await state(b.t);
    google.directory.find((u) => u.id === 'u2')!.suspended = true;
    const report = await reconcile(a.t);
    expect(report.changes).toEqual([expect.objectContaining({ op: 'deactivate', userId: a.ids.ben })]);
    expect(await state(b.t)).toEqual(beforeB);
    expect(await lastReconcileRun(b.t)).toBeNull();
    expect(await b.t.db.reconcileRun.count()).toBe(0);
    expect((await lastReconcileRun(a.t))?.id).toBe(report.runId);
    expect(await audits(b.t, 'reconcile.user.deactivate')).toEqual([]);
  });

  it('one run per tenant at a time (the lock is per tenant and taken over when stale); directory-sync tenants are refused', async () => {
    const { t } = await setup();
    const other = await setup();
    await startRun(app.services, t, { source: 'google', connectorId: 'con_x', trigger: 'cli' });
    await expect(reconcile(t)).rejects.toThrow(/already running/);
    // Another tenant is not blocked, and a dry run takes no lock.
    expect(await reconcile(other.t)).toMatchObject({ status: 'applied' });
    expect(await reconcile(t, { 'dry-run': true })).toMatchObject({ status: 'dry-run' });
    app.clock.advance(31 * 60_000);
    expect(await reconcile(t)).toMatchObject({ status: 'applied' });
    expect(await t.db.reconcileRun.count({ where: { status: 'abandoned' } })).toBe(1);

    await cli(app, 'tenant settings', { tenant: t.slug, provisioning: 'directory-sync' });
    await expect(reconcile((await findTenantBySlug(app.services.db, t.slug))!)).rejects.toThrow(/directory sync/);
    const bare = await app.createTenant();
    await expect(reconcile(bare)).rejects.toThrow(/no directory connector/);
  });

  it('the scheduled job reconciles each SCIM tenant with a directory connector hourly, never a directory-sync tenant', async () => {
    const { t } = await setup();
    const off = await setup();
    await cli(app, 'tenant settings', { tenant: off.t.slug, 'reconcile-schedule': 'off' });
    const synced = await setup();
    await cli(app, 'tenant settings', { tenant: synced.t.slug, provisioning: 'directory-sync' });
    google.directory.find((u) => u.id === 'u3')!.suspended = true;
    const first = await reconcileDueTenants(app.services);
    expect(first.reconciled).toContain(t.slug);
    expect([...first.reconciled, ...first.held, ...first.failed]).not.toContain(off.t.slug);
    expect([...first.reconciled, ...first.held, ...first.failed]).not.toContain(synced.t.slug);
    expect((await state(t)).users.find((u) => u.userNameKey === 'cid@acme.com')!.active).toBe(false);
    expect((await lastReconcileRun(t))).toMatchObject({ trigger: 'schedule', status: 'applied' });
    expect((await state(off.t)).users.every((u) => u.active)).toBe(true);
    expect((await state(synced.t)).users.every((u) => u.active)).toBe(true);

    google.directory.find((u) => u.id === 'u4')!.suspended = true;
    app.clock.advance(59 * 60_000);
    expect((await reconcileDueTenants(app.services)).reconciled).not.toContain(t.slug);
    expect((await state(t)).users.find((u) => u.userNameKey === 'dee@acme.com')!.active).toBe(true);
    app.clock.advance(60_000);
    // Through the registered job and its cross-node lease: one tick runs it, a second one at the same instant (another
    // node) does not.
    expect(await app.services.jobs.tick('reconcile')).toBe(true);
    expect(await app.services.jobs.tick('reconcile')).toBe(false);
    expect((await lastReconcileRun(t))).toMatchObject({ trigger: 'schedule', status: 'applied', summary: { applied: { deactivated: 1 } } });
    expect((await state(t)).users.find((u) => u.userNameKey === 'dee@acme.com')!.active).toBe(false);
  });
});
