import { beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli } from '../mcp/support.js';
import { scimTenant, GROUP, type ScimTenant } from '../scim/scim-client.js';
import { callableToolsCache } from '../../src/tools/callable-tools-cache.js';
import { listCallableTools } from '../../src/tools/list-callable-tools.js';
import { syncIdpGroups } from '../../src/sso/users/sync-idp-groups.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { OktaFake } from './support/okta-fake.js';
import { useOktaApp } from './support/okta-env.js';

describe.each(testDbKinds)('Okta group picker and IdP-group grants (%s)', (kind) => {
  let app: TestApp;
  let okta: OktaFake;
  useOktaApp(kind, (a, o) => {
    app = a;
    okta = o;
  });
  beforeEach(() => {
    okta.faults.length = 0;
  });

  /** A SCIM tenant with an Okta connector (API token) on an app that has the given groups assigned. */
  async function tenantWithOkta(): Promise<ScimTenant & { appId: string }> {
    const st = await scimTenant(app);
    const appId = okta.addApp();
    await cli(app, 'connector add-okta', { tenant: st.t.slug, 'org-url': okta.url, 'api-token': okta.apiToken(), 'app-id': appId });
    return { ...st, appId };
  }

  /** What the MCP endpoint (the per-user cache) and the consent page (the Prisma query) decide: both must agree. */
  async function callable(t: TenantCtx, userId: string): Promise<string[]> {
    const cached = (await callableToolsCache(app.services).list(t, userId)).map((x) => x.name);
    const direct = (await listCallableTools(app.services, t, userId)).map((x) => x.name);
    expect(cached).toEqual(direct);
    return cached;
  }

  it('connector groups lists and searches the org\'s groups through Link paging, marking those assigned to our app', async () => {
    const st = await tenantWithOkta();
    const tag = st.t.slug;
    const g1 = okta.addGroup(`${tag}-Engineering`);
    const g2 = okta.addGroup(`${tag}-eng-oncall`);
    okta.addGroup(`${tag}-Sales`);
    okta.apps.get(st.appId)!.groups.add(g1.id);
    const out = await cli(app, 'connector groups', { tenant: st.t.slug, search: `${tag}-ENG` });
    expect(out).toEqual({
      truncated: false,
      groups: [
        { id: g1.id, name: `${tag}-Engineering`, description: null, type: 'OKTA_GROUP', assignedToApp: true },
        { id: g2.id, name: `${tag}-eng-oncall`, description: null, type: 'OKTA_GROUP', assignedToApp: false },
      ],
    });
    expect(okta.requests.some((r) => r.path.startsWith('/api/v1/groups?') && r.path.includes(`q=${tag}-ENG`))).toBe(true);
    const limited = await cli(app, 'connector groups', { tenant: st.t.slug, search: tag, limit: '2' });
    expect((limited.groups as unknown[]).length).toBe(2);
    expect(limited.truncated).toBe(true);
    await expect(cli(app, 'connector groups', { tenant: st.t.slug, search: 'x'.repeat(101) })).rejects.toThrow(/--search/);
    await expect(cli(app, 'connector groups', { tenant: st.t.slug, limit: '-1' })).rejects.toThrow(/--limit/);
    okta.fail(/^\/api\/v1\/groups/, 403, { errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action', errorCauses: [] });
    await expect(cli(app, 'connector groups', { tenant: st.t.slug })).rejects.toThrow(/Okta: E0000006/);
    const none = await app.createTenant();
    await expect(cli(app, 'connector groups', { tenant: none.slug })).rejects.toThrow(/no Okta connector/);
  });

  it('a tool approved for an Okta group before anyone from it arrived takes effect when the group is pushed by SCIM (Okta Group Push: name only)', async () => {
    const st = await tenantWithOkta();
    const group = okta.addGroup('Engineering');
    // Before: the old way still fails for a group nobody pushed.
    await expect(cli(app, 'tool approve', { tenant: st.t.slug, tool: 'whoami', group: ['Engineering'] })).rejects.toThrow(/No group with id or name "Engineering"/);
    const approved = await cli(app, 'tool approve', { tenant: st.t.slug, tool: 'whoami', 'idp-group': [group.id] });
    expect(approved).toMatchObject({ approved: true, access: 'groups', groups: [], idpGroups: [{ source: 'okta', id: group.id, name: 'Engineering', localGroups: [] }] });

    const alice = await st.createUser('alice@acme.com', { externalId: '00ualice' });
    const bob = await st.createUser('bob@acme.com');
    // Loaded into the per-user cache before the group exists: the push must drop it.
    expect(await callable(st.t, alice.id)).toEqual([]);
    const pushed = await st.createGroup('Engineering', [alice.id]);
    expect(await callable(st.t, alice.id)).toEqual(['whoami']);
    expect(await callable(st.t, bob.id)).toEqual([]);
    expect((await cli(app, 'tool list', { tenant: st.t.slug })).tools).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'whoami', idpGroups: [expect.objectContaining({ localGroups: [pushed.id] })] })]));

    // Okta sends the rename before a membership update: bob joins, both keep access.
    const patch = (ops: unknown[]) => st.patch(`/Groups/${pushed.id}`, ops);
    expect((await patch([{ op: 'replace', value: { id: pushed.id, displayName: 'Engineering' } }, { op: 'add', path: 'members', value: [{ value: bob.id }] }])).status).toBeLessThan(300);
    expect(await callable(st.t, bob.id)).toEqual(['whoami']);
    // A rename in the push breaks the name match until Okta's name is read again: access fails closed, then returns.
    expect((await patch([{ op: 'replace', value: { id: pushed.id, displayName: 'Platform' } }])).status).toBeLessThan(300);
    expect(await callable(st.t, alice.id)).toEqual([]);
    okta.groups.get(group.id)!.profile.name = 'Platform';
    await cli(app, 'connector groups', { tenant: st.t.slug, search: 'Plat' });
    expect(await callable(st.t, alice.id)).toEqual(['whoami']);
    // Leaving the group ends it at once.
    expect((await patch([{ op: 'remove', path: `members[value eq "${alice.id}"]` }])).status).toBeLessThan(300);
    expect(await callable(st.t, alice.id)).toEqual([]);
    expect(await callable(st.t, bob.id)).toEqual(['whoami']);
    // Revoking the IdP group ends it for the rest.
    const revoked = await cli(app, 'tool revoke', { tenant: st.t.slug, tool: 'whoami', 'idp-group': [group.id] });
    expect(revoked).toMatchObject({ idpGroups: [], access: 'nobody' });
    expect(await callable(st.t, bob.id)).toEqual([]);
  });

  it('takes effect through a group carrying the Okta id as externalId, and through SSO-asserted group names', async () => {
    const st = await tenantWithOkta();
    const group = okta.addGroup('Finance');
    await cli(app, 'tool approve', { tenant: st.t.slug, tool: 'whoami', 'idp-group': [group.id] });
    const carol = await st.createUser('carol@acme.com');
    expect(await callable(st.t, carol.id)).toEqual([]);
    // A group pushed with the Okta id as externalId and another display name: matched by id.
    const res = await st.call('POST', '/Groups', { schemas: [GROUP], displayName: 'fin-team', externalId: group.id, members: [{ value: carol.id }] });
    expect(res.status).toBe(201);
    expect(await callable(st.t, carol.id)).toEqual(['whoami']);

    // SSO: the assertion's groups claim carries "Finance"; the login publishes user.changed (complete-login.ts).
    const dan = await st.createUser('dan@acme.com');
    expect(await callable(st.t, dan.id)).toEqual([]);
    expect(await syncIdpGroups(st.t, dan.id, ['finance'], true)).toBe(true);
    await app.services.bus.publish({ type: 'user.changed', tenantId: st.t.id, userId: dan.id });
    expect(await callable(st.t, dan.id)).toEqual(['whoami']);
    // A group with the same name but another directory's externalId does not stand for the Okta group.
    const eve = await st.createUser('eve@acme.com');
    expect((await st.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Finance', externalId: 'entra-object-id', members: [{ value: eve.id }] })).status).toBe(201);
    expect(await callable(st.t, eve.id)).toEqual([]);
  });

  it('refuses unknown, malformed and hostile IdP group ids, and tenants without an Okta connector', async () => {
    const st = await tenantWithOkta();
    const before = await cli(app, 'tool list', { tenant: st.t.slug });
    await expect(cli(app, 'tool approve', { tenant: st.t.slug, tool: 'whoami', 'idp-group': ['00gNOSUCHGROUP'] })).rejects.toThrow(/No group 00gNOSUCHGROUP in the Okta org/);
    for (const bad of ['../users', '00g1?x=1', '00g1/users', 'a'.repeat(65), '00g 1']) {
      await expect(cli(app, 'tool approve', { tenant: st.t.slug, tool: 'whoami', 'idp-group': [bad] }), bad).rejects.toThrow(/not an Okta group id/);
      await expect(cli(app, 'tool revoke', { tenant: st.t.slug, tool: 'whoami', 'idp-group': [bad] }), bad).rejects.toThrow(/not an IdP group id/);
    }
    expect(await st.t.db.idpGroupGrant.count()).toBe(0);
    expect(await cli(app, 'tool list', { tenant: st.t.slug })).toEqual(before);
    const plain = await app.createTenant();
    await expect(cli(app, 'tool approve', { tenant: plain.slug, tool: 'whoami', 'idp-group': [okta.addGroup('X').id] })).rejects.toThrow(/no Okta connector/);
  });

  it('cross-tenant: a grant in one tenant never reaches a same-named group or user of another', async () => {
    const a = await tenantWithOkta();
    const b = await scimTenant(app);
    const group = okta.addGroup('Shared Name');
    await cli(app, 'tool approve', { tenant: a.t.slug, tool: 'whoami', 'idp-group': [group.id] });
    const inB = await b.createUser('mallory@other.com', { externalId: 'mallory' });
    await b.createGroup('Shared Name', [inB.id]);
    expect((await b.call('POST', '/Groups', { schemas: [GROUP], displayName: 'other', externalId: group.id, members: [{ value: inB.id }] })).status).toBe(201);
    await cli(app, 'tool approve', { tenant: b.t.slug, tool: 'whoami', group: ['other'] });
    await cli(app, 'tool revoke', { tenant: b.t.slug, tool: 'whoami' });
    expect(await callable(b.t, inB.id)).toEqual([]);
    // Tenant A's user in A's group has it; B's rows are invisible to A's grant listing.
    const inA = await a.createUser('alice@a.com');
    const pushed = await a.createGroup('Shared Name', [inA.id]);
    expect(await callable(a.t, inA.id)).toEqual(['whoami']);
    const described = (await cli(app, 'tool list', { tenant: a.t.slug })).tools as { name: string; idpGroups: { localGroups: string[] }[] }[];
    expect(described.find((x) => x.name === 'whoami')!.idpGroups[0]!.localGroups).toEqual([pushed.id]);
    expect(await b.t.db.idpGroupGrant.count()).toBe(0);
  });
});
