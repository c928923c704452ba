import { describe, expect, it } from 'vitest';
import { connectorTool } from '../../src/connectors/tool-providers.js';
import { upgradeConnectorTools } from '../../src/connectors/upgrade-connector-tools.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { newId } from '../../src/lib/ids.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, connect, createUser, type FakeVerifier } from '../mcp/support.js';
import type { GoogleFake } from './support/google-fake.js';
import { useGoogleApp } from './support/google-env.js';

/**
 * Connector tools are rows made when the connector is added; the code defines them. A later version (new tool,
 * changed schema or description, tool dropped) must reach existing tenants: tools/list always shows the code's
 * definition, and at start the rows are brought up to date (new tools unapproved, approvals kept).
 */
describe.each(testDbKinds)('connector tools after an upgrade (%s)', (kind) => {
  let app: TestApp;
  let verifier: FakeVerifier;
  let google: GoogleFake;
  useGoogleApp(kind, (a, v, g) => {
    app = a;
    verifier = v;
    google = g;
  });

  it('lists the code\'s definition at once; the start-up sync adds new tools unapproved, updates rows, drops retired ones, keeps approvals', async () => {
    const t = await app.createTenant();
    const other = await app.createTenant();
    const sa = google.serviceAccount(t.slug);
    google.delegate(sa.clientId, allGoogleScopes());
    google.users.add('admin@acme.com');
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__gmail_search' });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__calendar_list_events' });

    // As an older version left them: a stale schema and text, a tool this version no longer has, one it added is missing.
    const stale = { description: 'old text', inputSchema: { type: 'object', properties: { q: { type: 'string' } } }, annotations: { readOnlyHint: false } };
    await t.db.tool.updateMany({ where: { name: 'google__gmail_search' }, data: stale });
    await t.db.tool.deleteMany({ where: { name: 'google__calendar_list_events' } });
    await t.db.tool.create({ data: { id: newId('tool'), tenantId: t.id, name: 'google__retired_tool', kind: 'connector', approved: true, everyone: true } });
    await t.db.tool.deleteMany({ where: { name: 'google__drive_search' } });

    const { client } = await connect(app, t, verifier.issue(t, await createUser(t, 'lee@acme.com')));
    const listed = (await client.listTools()).tools.find((x) => x.name === 'google__gmail_search')!;
    const code = connectorTool('google__gmail_search')!;
    expect(listed.description).toBe(code.description);
    expect(listed.inputSchema).toEqual(code.inputSchema);
    expect(listed.annotations).toMatchObject({ readOnlyHint: true });

    expect(await upgradeConnectorTools(app.services)).toMatchObject({ changed: 1 });
    const rows = await t.db.tool.findMany({ where: { kind: 'connector' } });
    const byName = new Map(rows.map((r) => [r.name, r]));
    expect(byName.has('google__retired_tool')).toBe(false);
    expect(byName.get('google__drive_search')).toMatchObject({ approved: false });
    expect(byName.get('google__calendar_list_events')).toMatchObject({ approved: false });
    expect(byName.get('google__gmail_search')).toMatchObject({ approved: true, description: code.description, inputSchema: code.inputSchema });
    // The other tenant (no connector) got nothing; a second run changes nothing.
    expect(await other.db.tool.count({ where: { kind: 'connector' } })).toBe(0);
    expect(await upgradeConnectorTools(app.services)).toMatchObject({ changed: 0 });
    expect((await client.listTools()).tools.map((x) => x.name).sort()).toEqual(['google__gmail_search', 'whoami']);
    await client.close();
  });
});
