import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli } from '../mcp/support.js';
import { oktaDirectorySource } from '../../src/connectors/okta/okta-directory-source.js';
import { oktaRuntime } from '../../src/connectors/okta/okta-client.js';
import type { DirectoryUser } from '../../src/connectors/directory-source.js';
import type { ConnectorRow } from '../../src/connectors/connector-store.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { FakeOktaUser, OktaFake } from './support/okta-fake.js';
import { useOktaApp } from './support/okta-env.js';

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe.each(testDbKinds)('Okta directory source (%s)', (kind) => {
  let app: TestApp;
  let okta: OktaFake;
  let waits: number[];
  useOktaApp(kind, (a, o, w) => {
    app = a;
    okta = o;
    waits = w;
  });

  let t: TenantCtx;
  let row: ConnectorRow;
  let appId: string;
  const u: Record<string, FakeOktaUser> = {};
  let eng: { id: string };
  beforeAll(async () => {
    // Each test file has its own fake: this org's users are this file's.
    t = await app.createTenant();
    const sa = okta.serviceApp();
    appId = okta.addApp();
    u.alice = okta.addUser('Alice@Acme.com', 'ACTIVE', { title: 'CTO', displayName: 'Alice A' }); // assigned directly
    u.bob = okta.addUser('bob@acme.com'); // assigned through the Engineering group
    u.carol = okta.addUser('carol@acme.com', 'SUSPENDED'); // assigned, suspended
    u.dave = okta.addUser('dave@acme.com'); // active in Okta, not assigned to our app
    u.erin = okta.addUser('erin@acme.com', 'DEPROVISIONED'); // deactivated: Okta's user list omits her
    u.frank = okta.addUser('frank@acme.com', 'LOCKED_OUT'); // assigned, locked out for now
    u.gina = okta.addUser('gina@acme.com', 'STAGED'); // assigned, never activated
    eng = okta.addGroup('Engineering', [u.bob!, u.erin!, u.dave!]);
    okta.addGroup('Sales', [u.carol!]);
    const a = okta.apps.get(appId)!;
    for (const x of [u.alice, u.carol, u.frank, u.gina]) a.users.add(x!.id);
    a.groups.add(eng.id);
    okta.apps.get(appId)!.users.delete(u.dave!.id);
    // dave is in Engineering, which is assigned: drop him from it to keep him unassigned, and keep erin's stale membership.
    okta.groups.get(eng.id)!.members = [u.bob!.id, u.erin!.id];
    await cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'client-id': sa.clientId, 'private-key': sa.privatePem, 'app-id': appId });
    row = (await t.db.connector.findFirst({ where: { kind: 'okta' } }))!;
  });

  beforeEach(() => {
    okta.faults.length = 0;
  });

  it('lists every user through Link paging, active only when assigned (directly or by group) and allowed to sign in', async () => {
    const seen = okta.requests.length;
    const users = await all(oktaDirectorySource(app.services, t, row).listUsers());
    const by = new Map(users.map((x) => [x.email, x]));
    expect(users).toHaveLength(6); // erin (DEPROVISIONED) is absent: gone
    expect(by.get('alice@acme.com')).toEqual<DirectoryUser>({ externalId: u.alice!.id, email: 'alice@acme.com', displayName: 'Alice A', givenName: 'First', familyName: 'Alice', title: 'CTO', active: true, userName: 'alice@acme.com', status: 'ACTIVE' });
    expect(Object.fromEntries(users.map((x) => [x.email.split('@')[0], x.active]))).toEqual({ alice: true, bob: true, carol: false, dave: false, frank: true, gina: false });
    const paths = okta.requests.slice(seen).map((r) => r.path);
    // Page size 2 in the fake: 5 app users → 3 pages, 6 users → 3 pages, each next page asked with Okta's `after` cursor.
    expect(paths.filter((p) => p.startsWith(`/api/v1/apps/${appId}/users`))).toHaveLength(3);
    expect(paths.filter((p) => p.startsWith('/api/v1/users'))).toHaveLength(3);
    expect(paths.filter((p) => p.includes('after='))).toHaveLength(4);
    expect(okta.requests.slice(seen).filter((r) => r.path.startsWith('/api/')).every((r) => r.auth === 'bearer')).toBe(true);
    const assigned = await all(oktaDirectorySource(app.services, t, row).listAssignedUserIds());
    expect(assigned.sort()).toEqual([u.alice, u.bob, u.carol, u.frank, u.gina].map((x) => x!.id).sort());
  });

  it('lists groups and their members', async () => {
    const source = oktaDirectorySource(app.services, t, row);
    const groups = await all(source.listGroups());
    expect(groups).toEqual(expect.arrayContaining([{ externalId: eng.id, displayName: 'Engineering', email: null }]));
    expect(await all(source.listMembers(eng.id))).toEqual([u.bob!.id]);
    await expect(all(source.listMembers('../users'))).rejects.toThrow(/Not an Okta group id/);
  });

  it('honours 429 by waiting until X-Rate-Limit-Reset (per the response Date) and retrying; a reset too far away fails', async () => {
    waits.length = 0;
    okta.throttle(/^\/api\/v1\/users\?.*after=/, 7, 2);
    const users = await all(oktaDirectorySource(app.services, t, row).listUsers());
    expect(users).toHaveLength(6);
    const pad = oktaRuntime(app.services).retry.padMs;
    expect(waits).toEqual([7000 + pad, 7000 + pad]);
    okta.throttle(/^\/api\/v1\/groups/, 3600, 1);
    await expect(all(oktaDirectorySource(app.services, t, row).listGroups())).rejects.toThrow(/rate limit resets too late/);
    // Retries are bounded: a 429 that never ends fails the listing.
    okta.throttle(/^\/api\/v1\/groups/, 1, 10);
    await expect(all(oktaDirectorySource(app.services, t, row).listGroups())).rejects.toMatchObject({ status: 429, errorCode: 'E0000047', message: expect.stringMatching(/exceeded rate limit/) });
  });

  it('throws on any failure part-way, with Okta\'s errorCode and errorSummary: never a partial listing', async () => {
    okta.fail(/^\/api\/v1\/users\?.*after=/, 500, { errorCode: 'E0000009', errorSummary: 'Internal Server Error', errorCauses: [] });
    const got: DirectoryUser[] = [];
    await expect((async () => {
      for await (const x of oktaDirectorySource(app.services, t, row).listUsers()) got.push(x);
    })()).rejects.toThrow(/E0000009|Internal Server Error/);
    expect(got.length).toBeLessThan(6);
    okta.fail(new RegExp(`^/api/v1/apps/${appId}/users`), 403, { errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action', errorCauses: [] });
    await expect(all(oktaDirectorySource(app.services, t, row).listUsers())).rejects.toMatchObject({ name: 'OktaError', status: 403, errorCode: 'E0000006' });
    okta.fail(/^\/api\/v1\/groups/, 502, '<html>bad gateway</html>');
    await expect(all(oktaDirectorySource(app.services, t, row).listGroups())).rejects.toMatchObject({ name: 'OktaError', status: 502 });
  });

  it('refuses a next link to another origin (the bearer token would go with it) and stops on abort', async () => {
    okta.nextLinkOrigin = 'https://attacker.example';
    try {
      await expect(all(oktaDirectorySource(app.services, t, row).listUsers())).rejects.toThrow(/another origin/);
    } finally {
      okta.nextLinkOrigin = null;
    }
    const ctl = new AbortController();
    ctl.abort(new Error('run cancelled'));
    await expect(all(oktaDirectorySource(app.services, t, row, ctl.signal).listGroups())).rejects.toThrow(/run cancelled/);
  });

  it('cross-tenant: another tenant cannot read this connector\'s credential through the source', async () => {
    const other = await app.createTenant();
    await expect(all(oktaDirectorySource(app.services, other, row).listGroups())).rejects.toThrow();
  });
});
