import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, connect, useFakeVerifier, type FakeVerifier } from '../mcp/support.js';
import type { OktaFake } from '../connectors/support/okta-fake.js';
import { useOktaApp } from '../connectors/support/okta-env.js';
import { GoogleFake } from '../connectors/support/google-fake.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { googleRuntime } from '../../src/connectors/google/google-tokens.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { newId } from '../../src/lib/ids.js';
import { adminApi, createGroup, signIn } from './support.js';

type Picker = { groups: { ref: string; name: string; source: string; members: number | null }[]; unavailable: { source: string; reason: string }[]; notes: string[] };

/** The console's group picker offers the IdP's groups through the Okta connector (decision 0021), against the Okta fake. */
describe.each(testDbKinds)('admin console group picker with Okta groups (%s)', (kind) => {
  let app: TestApp;
  let okta: OktaFake;
  useOktaApp(kind, (a, o) => {
    app = a;
    okta = o;
  });
  let google: GoogleFake;
  let verifier: FakeVerifier;
  beforeAll(async () => {
    google = await new GoogleFake(() => app.clock.now()).start();
    // Google's pages hold up to maxResults (200); the picker's paging is bounded, so pages of the real size here.
    google.directoryPageSize = 100;
    Object.assign(googleRuntime(app.services).retry, { baseDelayMs: 1, maxDelayMs: 5 });
    verifier = useFakeVerifier(app);
  });
  afterAll(async () => {
    await google?.close();
  });
  beforeEach(() => {
    okta.faults.length = 0;
    google.failures.length = 0;
  });

  /** Google group ids are alphanumeric (e.g. 03x8tuzt3hqdv5v). */
  const gid = () => `0${randomBytes(7).toString('hex')}`;

  /** A Google connector whose admin belongs to a customer of the tenant's own (so groups of other tests are not its). */
  async function addGoogle(t: TenantCtx) {
    const sa = google.serviceAccount(t.slug);
    google.delegate(sa.clientId, allGoogleScopes());
    const adminEmail = `admin@${t.slug}.example`;
    google.users.add(adminEmail);
    const customer = `C${t.slug}`;
    google.customerOf.set(adminEmail, customer);
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': adminEmail, 'api-root': google.url });
    return { customer, domain: `${t.slug}.example` };
  }

  async function tenantWithOkta() {
    const t = await app.createTenant();
    const appId = okta.addApp();
    await cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'api-token': okta.apiToken(), 'app-id': appId });
    return { t, appId };
  }

  it('lists local and Okta groups with their source; approving for an Okta group from the API and from a form makes IdP-group grants', async () => {
    const { t, appId } = await tenantWithOkta();
    const tag = t.slug;
    const eng = okta.addGroup(`${tag}-Engineering`);
    const sales = okta.addGroup(`${tag}-Sales`);
    okta.apps.get(appId)!.groups.add(eng.id);
    const local = await createGroup(t, `${tag}-Local admins`);
    const admin = await signIn(app, t, { admin: true });
    const api = adminApi(app, t, admin);

    const picker = (await (await api.get(`/group-picker?q=${tag}`)).json()) as Picker;
    expect(picker.unavailable).toEqual([]);
    expect(picker.groups).toEqual([
      { ref: local, name: `${tag}-Local admins`, source: 'manual', members: 0 },
      { ref: `okta:${eng.id}`, name: `${tag}-Engineering`, source: 'Okta (assigned to this app)', members: null },
      { ref: `okta:${sales.id}`, name: `${tag}-Sales`, source: 'Okta', members: null },
    ]);
    // The search reaches Okta (its `q`), not only a filter over what was listed.
    const sought = (await (await api.get(`/group-picker?q=${tag}-sal`)).json()) as Picker;
    expect(sought.groups.map((g) => g.ref)).toEqual([`okta:${sales.id}`]);

    // The JSON API takes IdP groups by id, the same validation as the CLI's --idp-group.
    expect((await api.act('tool-approve', { tool: 'whoami', idpGroups: ['not an id!'] })).status).toBe(400);
    const approved = await api.act('tool-approve', { tool: 'whoami', idpGroups: [eng.id] });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ access: 'groups', idpGroups: [{ source: 'okta', id: eng.id, name: `${tag}-Engineering` }] });

    // The console's form: the picker's values, a local group and an Okta group together.
    const form = new URLSearchParams({ csrf: admin.csrf, return: `/t/${t.slug}/admin/tools`, tool: 'whoami', scope: 'groups' });
    form.append('group', local);
    form.append('group', `okta:${sales.id}`);
    const posted = await fetch(`${app.url}/t/${t.slug}/admin/actions/tool-approve`, { method: 'POST', redirect: 'manual', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: app.url }, body: form });
    expect(posted.status).toBe(303);
    const catalog = (await (await api.get('/tools')).json()) as { tools: { name: string; groups: { id: string }[]; idpGroups: { id: string }[] }[] };
    const whoami = catalog.tools.find((x) => x.name === 'whoami')!;
    expect(whoami.groups.map((g) => g.id)).toEqual([local]);
    expect(whoami.idpGroups.map((g) => g.id).sort()).toEqual([eng.id, sales.id].sort());
    // An unknown source in a form is refused, not dropped.
    form.set('group', 'ldap:cn=admins');
    const unknown = await fetch(`${app.url}/t/${t.slug}/admin/actions/tool-approve`, { method: 'POST', redirect: 'manual', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: app.url }, body: form });
    expect(unknown.status).toBe(400);

    // The Tools page renders the Okta groups in the picker.
    const page = await (await fetch(`${app.url}/t/${t.slug}/admin/tools`, { headers: { cookie: admin.cookie } })).text();
    expect(page).toContain(`value="okta:${eng.id}"`);
  }, 120_000);

  it('Okta failing leaves local groups and says why; a tenant without the connector offers only its own groups', async () => {
    const { t } = await tenantWithOkta();
    const local = await createGroup(t, 'Finance');
    const api = adminApi(app, t, await signIn(app, t, { admin: true }));
    okta.fail(/^\/api\/v1\/apps\//, 403, { errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action', errorCauses: [] });
    const picker = (await (await api.get('/group-picker')).json()) as Picker;
    expect(picker.groups.map((g) => g.ref)).toEqual([local]);
    expect(picker.unavailable).toEqual([{ source: 'okta', reason: expect.stringMatching(/^Okta: E0000006/) }]);

    okta.addGroup('Visible only to the Okta tenant');
    const plain = await app.createTenant();
    const other = (await (await adminApi(app, plain, await signIn(app, plain, { admin: true })).get('/group-picker')).json()) as Picker;
    expect(other).toEqual({ groups: [], unavailable: [], notes: [] });
  }, 120_000);
  it('lists local, Okta and Google Workspace groups with their source; the Google search narrows by name or e-mail prefix', async () => {
    const { t } = await tenantWithOkta();
    const { customer, domain } = await addGoogle(t);
    const tag = t.slug;
    const eng = okta.addGroup(`${tag}-Engineering`);
    const sales = { id: gid(), email: `sales-emea@${domain}`, name: `${tag} Sales EMEA`, members: [], customer };
    const ops = { id: gid(), email: `ops@${domain}`, name: `${tag} Operations`, members: [], customer };
    google.groups.push(sales, ops);
    const local = await createGroup(t, `${tag}-Local admins`);
    const api = adminApi(app, t, await signIn(app, t, { admin: true }));

    const picker = (await (await api.get(`/group-picker?q=${tag}`)).json()) as Picker;
    expect(picker.unavailable).toEqual([]);
    expect(picker.groups).toEqual([
      { ref: local, name: `${tag}-Local admins`, source: 'manual', members: 0 },
      { ref: `okta:${eng.id}`, name: `${tag}-Engineering`, source: 'Okta', members: null },
      { ref: `google:${ops.id}`, name: `${tag} Operations`, source: 'Google Workspace', members: null },
      { ref: `google:${sales.id}`, name: `${tag} Sales EMEA`, source: 'Google Workspace', members: null },
    ]);
    // Google's own search (name:'PREFIX*', quoted for the space), not a filter over what was listed first.
    const byName = (await (await api.get(`/group-picker?q=${encodeURIComponent(`${tag} sal`)}`)).json()) as Picker;
    expect(byName.groups.map((g) => g.ref)).toEqual([`google:${sales.id}`]);
    const byEmail = (await (await api.get('/group-picker?q=sales-em')).json()) as Picker;
    expect(byEmail.groups.map((g) => g.ref)).toEqual([`google:${sales.id}`]);
    // A quote in the search is escaped (Google's \' syntax), not a broken query.
    expect(await (await api.get(`/group-picker?q=${encodeURIComponent("o'brien")}`)).json()).toEqual({ groups: [], unavailable: [], notes: [] });
    // At most 50 from the IdP per query.
    google.groups.push(...Array.from({ length: 60 }, (_, i) => ({ id: gid(), email: `bulk${i}@${domain}`, name: `${tag} Bulk ${String(i).padStart(2, '0')}`, members: [], customer })));
    const bulk = (await (await api.get(`/group-picker?q=${encodeURIComponent(`${tag} Bulk`)}`)).json()) as Picker;
    expect(bulk.groups.filter((g) => g.source === 'Google Workspace')).toHaveLength(50);
  }, 120_000);

  it('approving for a Google group grants its members (synced from Google) and not others, through tools/list; from the form too', async () => {
    const t0 = await app.createTenant();
    const { customer, domain } = await addGoogle(t0);
    await cli(app, 'tenant settings', { tenant: t0.slug, provisioning: 'directory-sync' });
    const t = (await findTenantBySlug(app.services.db, t0.slug))!;
    const [annId, benId] = [gid(), gid()];
    google.directory.length = 0;
    google.directory.push({ id: annId, primaryEmail: `ann@${domain}`, name: { fullName: 'Ann' } }, { id: benId, primaryEmail: `ben@${domain}`, name: { fullName: 'Ben' } });
    const sales = { id: gid(), email: `sales@${domain}`, name: 'Sales', members: [annId], customer };
    google.groups.push(sales, { id: gid(), email: `all@${domain}`, name: 'Everyone else', members: [benId], customer });
    expect(await cli(app, 'connector sync-directory', { tenant: t.slug })).toMatchObject({ errors: 0 });
    const ann = (await t.db.user.findFirst({ where: { userNameKey: `ann@${domain}` } }))!;
    const ben = (await t.db.user.findFirst({ where: { userNameKey: `ben@${domain}` } }))!;
    const synced = (await t.db.group.findFirst({ where: { externalId: sales.id } }))!;
    const admin = await signIn(app, t, { admin: true });
    const api = adminApi(app, t, admin);
    const names = async (userId: string) => {
      const { client } = await connect(app, t, verifier.issue(t, userId));
      try {
        return (await client.listTools()).tools.map((x) => x.name);
      } finally {
        await client.close().catch(() => undefined);
      }
    };
    // whoami starts approved for everyone: revoked first, so only the Google grant can give it back.
    expect((await api.act('tool-revoke', { tool: 'whoami' })).status).toBe(200);
    expect(await names(ann.id)).not.toContain('whoami');

    expect((await api.act('tool-approve', { tool: 'whoami', idpGroups: ['google:not an id'] })).status).toBe(400);
    expect((await api.act('tool-approve', { tool: 'whoami', idpGroups: ['google:0unknown'] })).status).toBe(404);
    const approved = await api.act('tool-approve', { tool: 'whoami', idpGroups: [`google:${sales.id}`] });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ access: 'groups', idpGroups: [{ source: 'google', id: sales.id, name: 'Sales', localGroups: [synced.id] }] });
    expect(await names(ann.id)).toContain('whoami');
    expect(await names(ben.id)).not.toContain('whoami');

    // Revoking by the picker's reference removes the Google grant: nobody keeps it.
    expect((await api.act('tool-revoke', { tool: 'whoami', idpGroups: [`google:${sales.id}`] })).status).toBe(200);
    expect(await names(ann.id)).not.toContain('whoami');

    // The console's form posts the picker's value as is.
    const form = new URLSearchParams({ csrf: admin.csrf, return: `/t/${t.slug}/admin/tools`, tool: 'whoami', scope: 'groups', group: `google:${sales.id}` });
    const posted = await fetch(`${app.url}/t/${t.slug}/admin/actions/tool-approve`, { method: 'POST', redirect: 'manual', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: app.url }, body: form });
    expect(posted.status).toBe(303);
    expect(await names(ann.id)).toContain('whoami');
    expect(await names(ben.id)).not.toContain('whoami');
    const page = await (await fetch(`${app.url}/t/${t.slug}/admin/tools`, { headers: { cookie: admin.cookie } })).text();
    expect(page).toContain(`value="google:${sales.id}" checked`);
    google.directory.length = 0;
  }, 180_000);

  it('Google failing leaves local groups and says why; another tenant never sees or grants this tenant\'s Google groups; Microsoft is explained', async () => {
    const a = await app.createTenant();
    const { customer, domain } = await addGoogle(a);
    const secret = { id: gid(), email: `board@${domain}`, name: 'Board', members: [], customer };
    google.groups.push(secret);
    const local = await createGroup(a, 'Finance');
    const admin = await signIn(app, a, { admin: true });
    const api = adminApi(app, a, admin);
    google.failures.push({ prefix: '/admin/directory/v1/groups', status: 403, reason: 'forbidden', count: 1 });
    const picker = (await (await api.get('/group-picker')).json()) as Picker;
    expect(picker.groups.map((g) => g.ref)).toEqual([local]);
    expect(picker.unavailable).toEqual([{ source: 'google', reason: expect.stringMatching(/^Google Workspace: Google refused admin\.directory\.groups\.list/) }]);
    google.failures.push({ prefix: '/admin/directory/v1/groups', status: 403, reason: 'forbidden', count: 1 });
    const page = await (await fetch(`${app.url}/t/${a.slug}/admin/tools`, { headers: { cookie: admin.cookie } })).text();
    expect(page).toContain('Groups from Google Workspace are not shown');
    expect(page).toContain(`value="${local}"`);
    expect(((await (await api.get('/group-picker')).json()) as Picker).groups.map((g) => g.ref)).toEqual([local, `google:${secret.id}`]);

    // Another tenant with its own Google customer sees its groups only, and cannot grant ours by id.
    const b = await app.createTenant();
    const other = await addGoogle(b);
    const theirs = { id: gid(), email: `team@${other.domain}`, name: 'Team', members: [], customer: other.customer };
    google.groups.push(theirs);
    const apiB = adminApi(app, b, await signIn(app, b, { admin: true }));
    expect(((await (await apiB.get('/group-picker')).json()) as Picker).groups.map((g) => g.ref)).toEqual([`google:${theirs.id}`]);
    expect(((await (await apiB.get('/group-picker?q=Board')).json()) as Picker).groups).toEqual([]);
    expect((await apiB.act('tool-approve', { tool: 'whoami', idpGroups: [`google:${secret.id}`] })).status).toBe(404);
    // A tenant without a Google connector asks Google nothing.
    const plain = await app.createTenant();
    const before = google.apiRequests.length;
    expect(await (await adminApi(app, plain, await signIn(app, plain, { admin: true })).get('/group-picker')).json()).toEqual({ groups: [], unavailable: [], notes: [] });
    expect(google.apiRequests.length).toBe(before);

    // With the Microsoft connector, the picker says where Entra groups come from (they are not searched in Graph).
    await plain.db.connector.create({ data: { id: newId('con'), tenantId: plain.id, kind: 'microsoft', config: {} } });
    const ms = (await (await adminApi(app, plain, await signIn(app, plain, { admin: true })).get('/group-picker')).json()) as Picker;
    expect(ms.notes).toEqual([expect.stringMatching(/Entra provisioning \(SCIM\)/)]);
  }, 120_000);
});
