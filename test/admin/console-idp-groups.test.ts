import { beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli } from '../mcp/support.js';
import type { OktaFake } from '../connectors/support/okta-fake.js';
import { useOktaApp } from '../connectors/support/okta-env.js';
import { adminApi, createGroup, signIn } from './support.js';

type Picker = { groups: { ref: string; name: string; source: string; members: number | null }[]; unavailable: { source: string; reason: string }[] };

/** The console's group picker offers the IdP's groups through the Okta connector (decision 0021), against the Okta fake. */
describe.each(testDbKinds)('admin console group picker with Okta groups (%s)', (kind) => {
  let app: TestApp;
  let okta: OktaFake;
  useOktaApp(kind, (a, o) => {
    app = a;
    okta = o;
  });
  beforeEach(() => {
    okta.faults.length = 0;
  });

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
    expect(other).toEqual({ groups: [], unavailable: [] });
  }, 120_000);
});
