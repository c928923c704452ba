import { beforeEach, describe, expect, it } from 'vitest';
import { lastReconcileRun } from '../../src/connectors/reconcile/reconcile-runs.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { cli, connect, useFakeVerifier, type FakeVerifier } from '../mcp/support.js';
import { scimTenant, type ScimTenant } from '../scim/scim-client.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import type { FakeOktaGroup, FakeOktaUser, OktaFake } from './support/okta-fake.js';
import { useOktaApp } from './support/okta-env.js';

const NAMES = ['ann', 'ben', 'cid', 'dee', 'eve', 'fay', 'gus', 'hal'] as const;
type Name = (typeof NAMES)[number];

/**
 * Reconciliation reading Okta (docs/reconciliation.md, docs/connectors/okta.md): the real okta-sdk-nodejs client,
 * through the connector's org URL, against the Okta fake. The fake is one org shared by every tenant of the file;
 * each tenant has its own app integration (assignments are per app), its own users and groups.
 */
describe.each(testDbKinds)('Reconciliation with Okta (%s)', (kind) => {
  let app: TestApp;
  let okta: OktaFake;
  let verifier: FakeVerifier;
  let waits: number[];
  useOktaApp(kind, (a, o, w) => {
    app = a;
    okta = o;
    waits = w;
    verifier = useFakeVerifier(a);
  });
  beforeEach(() => {
    okta.faults.length = 0;
  });

  interface Setup {
    scim: ScimTenant;
    t: TenantCtx;
    appId: string;
    /** Local user ids by name. */
    ids: Record<Name, string>;
    /** The Okta users by name. */
    people: Record<Name, FakeOktaUser>;
    eng: FakeOktaGroup;
    sales: FakeOktaGroup;
    tag: string;
  }

  /**
   * A tenant provisioned as Okta pushes it: eight users created through SCIM with externalId = the Okta user id, two
   * groups pushed by name (Okta Group Push), all assigned to the tenant's app integration; an Okta connector on that
   * app. `shared` reuses another setup's Okta users and groups (same ids, names, e-mails) under a new app.
   */
  async function setup(shared?: Setup): Promise<Setup> {
    const scim = await scimTenant(app);
    const tag = shared?.tag ?? scim.t.slug;
    const appId = okta.addApp();
    const people = shared?.people ?? (Object.fromEntries(NAMES.map((n) => [n, okta.addUser(`${n}@${tag}.example`)])) as Record<Name, FakeOktaUser>);
    const eng = shared?.eng ?? okta.addGroup(`${tag}-Engineering`, [people.ann, people.ben, people.cid]);
    const sales = shared?.sales ?? okta.addGroup(`${tag}-Sales`, [people.dee, people.eve]);
    for (const p of Object.values(people)) okta.apps.get(appId)!.users.add(p.id);
    await cli(app, 'connector add-okta', { tenant: scim.t.slug, 'org-url': okta.url, 'api-token': okta.apiToken(), 'app-id': appId });
    const ids = {} as Record<Name, string>;
    for (const n of NAMES) {
      const email = people[n].profile.email;
      ids[n] = (await scim.createUser(email, { externalId: people[n].id, emails: [{ value: email, primary: true }] })).id;
    }
    await scim.createGroup(eng.profile.name, [ids.ann, ids.ben, ids.cid]);
    await scim.createGroup(sales.profile.name, [ids.dee, ids.eve]);
    return { scim, t: (await findTenantBySlug(app.services.db, scim.t.slug))!, appId, ids, people, eng, sales, tag };
  }

  const state = async (t: TenantCtx) => {
    const users = await t.db.user.findMany({ orderBy: { userNameKey: 'asc' }, select: { userNameKey: true, active: true } });
    const groups = await t.db.group.findMany({ orderBy: { displayNameKey: 'asc' }, include: { memberships: { include: { user: { select: { userNameKey: true } } } } } });
    return { users, groups: groups.map((g) => ({ name: g.displayName, members: g.memberships.map((m) => m.user.userNameKey).sort() })) };
  };
  const inactive = async (t: TenantCtx) => (await state(t)).users.filter((u) => !u.active).map((u) => u.userNameKey.split('@')[0]);
  const audits = async (t: TenantCtx, action: string) => {
    await app.services.audit.flush();
    return t.db.auditEvent.findMany({ where: { action }, orderBy: { seq: 'asc' } });
  };
  const reconcile = async (t: TenantCtx, opts: Record<string, boolean> = {}) => cli(app, 'reconcile', { tenant: (await fresh(t)).slug, ...opts });
  const fresh = async (t: TenantCtx) => (await findTenantBySlug(app.services.db, t.slug))!;
  const whoami = (client: Awaited<ReturnType<typeof connect>>['client']) => client.callTool({ name: 'whoami', arguments: {} });
  const sortedChanges = (r: Record<string, unknown>) => [...(r.changes as { userName: string }[])].sort((a, b) => a.userName.localeCompare(b.userName));

  it('deprovisions Okta never pushed are caught: unassigned, SUSPENDED and DEPROVISIONED users are deactivated, their MCP access refused at once, audited with Okta\'s status', async () => {
    const s = await setup();
    const { t, ids, people } = s;
    // Eight active users: a 50 % limit lets three deactivations through without --confirm (the guard is test 3's).
    await cli(app, 'tenant settings', { tenant: t.slug, 'reconcile-max-percent': '50' });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'whoami', group: [s.eng.profile.name, s.sales.profile.name] });
    const clients = {} as Record<'ann' | 'ben' | 'cid' | 'dee', Awaited<ReturnType<typeof connect>>['client']>;
    for (const n of ['ann', 'ben', 'cid', 'dee'] as const) {
      clients[n] = (await connect(app, t, verifier.issue(t, ids[n]))).client;
      expect((await whoami(clients[n])).isError).toBeFalsy();
    }

    // In Okta, while provisioning was off (no SCIM PATCH active=false ever arrived): Ann unassigned from the app, Ben
    // suspended, Cid deactivated (DEPROVISIONED: Okta's user list no longer has him, and his assignments are gone).
    okta.apps.get(s.appId)!.users.delete(people.ann.id);
    people.ben.status = 'SUSPENDED';
    people.cid.status = 'DEPROVISIONED';
    const report = await reconcile(t);
    expect(report).toMatchObject({ status: 'applied', source: 'okta', dryRun: false, errors: 0, guard: { limit: 4, deactivations: 3, held: false } });
    expect(sortedChanges(report)).toEqual([
      { op: 'deactivate', userId: ids.ann, userName: people.ann.profile.email, reason: 'inactive-in-directory', evidence: { directoryId: people.ann.id, matchedBy: 'externalId', active: false, status: 'ACTIVE, not assigned to the app' }, result: 'applied' },
      { op: 'deactivate', userId: ids.ben, userName: people.ben.profile.email, reason: 'inactive-in-directory', evidence: { directoryId: people.ben.id, matchedBy: 'externalId', active: false, status: 'SUSPENDED' }, result: 'applied' },
      {
        op: 'deactivate',
        userId: ids.cid,
        userName: people.cid.profile.email,
        reason: 'not-in-directory',
        evidence: { listed: false, usersListed: expect.any(Number), lookedFor: { externalId: people.cid.id, userName: people.cid.profile.email, email: people.cid.profile.email } },
        result: 'applied',
      },
    ]);
    // Access ends before the command returns: the next MCP request of each is refused; Dee keeps hers.
    for (const n of ['ann', 'ben', 'cid'] as const) await expect(whoami(clients[n]), n).rejects.toThrow();
    expect((await whoami(clients.dee)).isError).toBeFalsy();
    expect(await inactive(t)).toEqual(['ann', 'ben', 'cid']);

    const deactivated = await audits(t, 'reconcile.user.deactivate');
    expect(deactivated.map((e) => e.targetId).sort()).toEqual([ids.ann, ids.ben, ids.cid].sort());
    for (const e of deactivated) expect(e).toMatchObject({ actorKind: 'system', actorId: 'reconcile', outcome: 'success', detail: { source: 'reconcile', runId: report.runId, changed: ['active'] } });
    expect(deactivated.find((e) => e.targetId === ids.ben)!.detail).toMatchObject({ evidence: { directoryId: people.ben.id, status: 'SUSPENDED', active: false } });
    expect(deactivated.find((e) => e.targetId === ids.ann)!.detail).toMatchObject({ evidence: { directoryId: people.ann.id, status: 'ACTIVE, not assigned to the app' } });
    expect(deactivated.find((e) => e.targetId === ids.cid)!.detail).toMatchObject({ reason: 'not-in-directory', evidence: { listed: false } });
    const revoked = await audits(t, 'user.revoke');
    expect(revoked.map((e) => e.targetId).sort()).toEqual([ids.ann, ids.ben, ids.cid].sort());
    for (const e of revoked) expect(e).toMatchObject({ actorId: 'reconcile', detail: { reason: 'reconcile.deactivated' } });
    // Read through the SDK with the connector's API token only.
    expect(okta.requests.filter((r) => r.path.startsWith(`/api/v1/apps/${s.appId}/users`)).every((r) => r.auth === 'ssws')).toBe(true);

    // A second run changes nothing; Okta reassigning Ann is drift (the push reactivates her), never a reactivation here.
    expect((await reconcile(t)).changes).toEqual([]);
    okta.apps.get(s.appId)!.users.add(people.ann.id);
    const again = await reconcile(t);
    expect(again.changes).toEqual([]);
    expect((again.drift as { inactiveHere: unknown[] }).inactiveHere).toEqual([{ userId: ids.ann, userName: people.ann.profile.email, directoryId: people.ann.id }]);
    for (const c of Object.values(clients)) await c.close().catch(() => undefined);
  }, 60_000);

  it('a membership removed in Okta is removed here, and the tool granted to that Okta group (--idp-group) is gone at once', async () => {
    const s = await setup();
    const { t, ids, people } = s;
    expect(await cli(app, 'tool approve', { tenant: t.slug, tool: 'whoami', 'idp-group': [s.eng.id] })).toMatchObject({ idpGroups: [{ source: 'okta', id: s.eng.id }] });
    const { client } = await connect(app, t, verifier.issue(t, ids.ben));
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('whoami');

    s.eng.members = s.eng.members.filter((id) => id !== people.ben.id);
    const report = await reconcile(t);
    expect(report).toMatchObject({ status: 'applied', errors: 0, guard: { deactivations: 0, membershipLosses: 1, held: false } });
    expect(report.changes).toEqual([
      {
        op: 'remove-membership',
        userId: ids.ben,
        userName: people.ben.profile.email,
        groupId: expect.any(String),
        group: s.eng.profile.name,
        evidence: { directoryGroupId: s.eng.id, directoryGroup: s.eng.profile.name, membersListed: 2, directoryUserId: people.ben.id, member: false },
        result: 'applied',
      },
    ]);
    expect((await client.listTools()).tools.map((x) => x.name)).not.toContain('whoami');
    const call = await whoami(client).catch((err: Error) => ({ isError: true, message: err.message }));
    expect(call.isError).toBe(true);
    const after = await state(t);
    expect(after.groups.find((g) => g.name === s.eng.profile.name)!.members).toEqual([people.ann.profile.email, people.cid.profile.email]);
    expect(after.users.every((u) => u.active)).toBe(true);
    const [removed] = await audits(t, 'reconcile.group.member.remove');
    expect(removed).toMatchObject({ actorId: 'reconcile', targetId: ids.ben, detail: { source: 'reconcile', group: s.eng.profile.name, evidence: { directoryGroupId: s.eng.id, membersListed: 2 } } });
    // Ann, still a member in Okta, keeps the tool.
    const { client: ann } = await connect(app, t, verifier.issue(t, ids.ann));
    expect((await whoami(ann)).isError).toBeFalsy();
    await client.close().catch(() => undefined);
    await ann.close().catch(() => undefined);
  }, 60_000);

  it('the mass-deactivation guard holds a run where Okta suddenly reports most users unassigned; --confirm applies it', async () => {
    const s = await setup();
    const { t } = s;
    const before = await state(t);
    // An assignment gone wrong in Okta: only Ann and Ben are still assigned to the app.
    const assigned = okta.apps.get(s.appId)!.users;
    assigned.clear();
    assigned.add(s.people.ann.id);
    assigned.add(s.people.ben.id);
    const held = await reconcile(t);
    expect(held).toMatchObject({ status: 'held', source: 'okta', guard: { limit: 1, deactivations: 6, held: true, reason: expect.stringMatching(/deactivate 6 users, more than the limit of 1/) } });
    expect((held.changes as unknown[]).length).toBe(6);
    expect(await state(t)).toEqual(before);
    expect(await audits(t, 'reconcile.user.deactivate')).toEqual([]);
    expect((await audits(t, 'reconcile.run')).map((e) => e.outcome)).toEqual(['denied']);
    expect((await cli(app, 'reconcile', { tenant: t.slug, last: true })).last).toMatchObject({ id: held.runId, status: 'held', source: 'okta', summary: { planned: { deactivate: 6 }, applied: null } });

    const confirmed = await reconcile(t, { confirm: true });
    expect(confirmed).toMatchObject({ status: 'applied', errors: 0, guard: { held: true } });
    expect(await inactive(t)).toEqual(['cid', 'dee', 'eve', 'fay', 'gus', 'hal']);
    expect((await audits(t, 'reconcile.run')).at(-1)).toMatchObject({ outcome: 'success', detail: { confirmed: expect.stringMatching(/limit of 1/) } });
  }, 60_000);

  it('an Okta outage mid-run (500 on a later users page, 429 beyond retries on a group\'s members) changes nothing', async () => {
    const s = await setup();
    const { t } = s;
    const before = await state(t);
    s.people.ann.status = 'SUSPENDED';
    s.sales.members = [s.people.dee.id];

    // The first users page reads fine; a later one fails.
    okta.fail(/^\/api\/v1\/users\?.*after=/, 500, { errorCode: 'E0000009', errorSummary: 'Internal Server Error', errorCauses: [] });
    await expect(reconcile(t)).rejects.toThrow(/Reading the okta directory failed.*nothing was changed/);
    expect(okta.faults[0]!.times).toBe(0);
    expect(await state(t)).toEqual(before);
    expect((await cli(app, 'reconcile', { tenant: t.slug, last: true })).last).toMatchObject({ status: 'failed', error: expect.stringMatching(/Reading the okta directory failed/) });

    // Users and groups read fine; the Sales members keep answering 429 after every retry.
    const waited = waits.length;
    okta.throttle(new RegExp(`^/api/v1/groups/${s.sales.id}/users`), 1, 20);
    await expect(reconcile(t)).rejects.toThrow(/Reading the okta directory failed.*nothing was changed/);
    expect(waits.length - waited).toBe(4); // retried at most 4 times, then the run failed
    okta.faults.length = 0;
    expect(await state(t)).toEqual(before);
    expect(await audits(t, 'reconcile.user.deactivate')).toEqual([]);
    expect(await audits(t, 'reconcile.group.member.remove')).toEqual([]);
    expect((await audits(t, 'reconcile.run')).map((e) => e.outcome)).toEqual(['failure', 'failure']);

    // Okta back: the next run applies what it says.
    const ok = await reconcile(t);
    expect(ok).toMatchObject({ status: 'applied', guard: { deactivations: 1, membershipLosses: 1 } });
    expect(await inactive(t)).toEqual(['ann']);
    expect((await state(t)).groups.find((g) => g.name === s.sales.profile.name)!.members).toEqual([s.people.dee.profile.email]);
  }, 60_000);

  it('reads every page: more users than one page (Link rel="next"), a user on the last page is judged', async () => {
    const s = await setup();
    const { t } = s;
    // Hal was created last: in Okta's listing (the fake's page size is 2) he is on the last page.
    s.people.hal.status = 'SUSPENDED';
    const seen = okta.requests.length;
    const report = await reconcile(t);
    expect(report.changes).toEqual([expect.objectContaining({ op: 'deactivate', userId: s.ids.hal, evidence: expect.objectContaining({ status: 'SUSPENDED' }) })]);
    const listed = [...okta.users.values()].filter((u) => u.status !== 'DEPROVISIONED').length;
    expect(listed).toBeGreaterThan(okta.pageSize * 3);
    expect(report.counts).toMatchObject({ directoryUsers: listed, matched: 8 });
    const pages = okta.requests.slice(seen).filter((r) => r.path.startsWith('/api/v1/users?'));
    expect(pages.length).toBe(Math.ceil(listed / okta.pageSize));
    expect(pages.slice(1).every((r) => /[?&]after=/.test(r.path))).toBe(true);
    // The app's assignments (8 users) and a 3-member group were paged too.
    expect(okta.requests.slice(seen).filter((r) => r.path.startsWith(`/api/v1/apps/${s.appId}/users`)).length).toBe(4);
    expect(okta.requests.slice(seen).filter((r) => r.path.startsWith(`/api/v1/groups/${s.eng.id}/users`)).length).toBe(2);
    expect(await inactive(t)).toEqual(['hal']);
  }, 60_000);

  it('stays inside its tenant: another tenant with the same Okta users and groups (its own app) is untouched', async () => {
    const a = await setup();
    const b = await setup(a);
    const beforeB = await state(b.t);
    expect(beforeB.users.map((u) => u.userNameKey)).toEqual((await state(a.t)).users.map((u) => u.userNameKey));
    // Ben is unassigned from A's app only; B's users carry the same Okta ids and names.
    okta.apps.get(a.appId)!.users.delete(a.people.ben.id);
    const report = await reconcile(a.t);
    expect(report.changes).toEqual([expect.objectContaining({ op: 'deactivate', userId: a.ids.ben })]);
    expect(await state(b.t)).toEqual(beforeB);
    expect(await lastReconcileRun(b.t)).toBeNull();
    expect(await b.t.db.reconcileRun.count()).toBe(0);
    expect(await audits(b.t, 'reconcile.user.deactivate')).toEqual([]);
    expect(await audits(b.t, 'user.revoke')).toEqual([]);
    expect((await lastReconcileRun(a.t))?.id).toBe(report.runId);
    // B's own run reads B's app, where Ben is still assigned: nothing to do.
    const rb = await reconcile(b.t);
    expect(rb).toMatchObject({ status: 'applied', changes: [] });
    expect(await state(b.t)).toEqual(beforeB);
  }, 60_000);
});
