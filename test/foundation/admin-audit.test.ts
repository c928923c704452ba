import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(testDbKinds)('admin commands are audited (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const run = (name: string, opts: Record<string, string>) => commands.find((c) => c.name === name)!.run(app.services, opts);

  it('records who did what to which target, never the token', async () => {
    const t = await app.createTenant();
    const created = (await run('scim-token create', { tenant: t.slug, label: 'Okta' })) as { id: string; token: string };
    await run('scim-token revoke', { tenant: t.slug, id: created.id });
    const events = await t.db.auditEvent.findMany({ where: { targetId: created.id }, orderBy: { action: 'asc' } });
    expect(events.map((e) => [e.action, e.actorKind, e.targetKind, e.outcome])).toEqual([
      ['scim-token.create', 'admin-cli', 'scim-token', 'success'],
      ['scim-token.revoke', 'admin-cli', 'scim-token', 'success'],
    ]);
    expect(JSON.stringify(events)).not.toContain(created.token);
  });

  it('records nothing when the command fails', async () => {
    const t = await app.createTenant();
    await expect(run('scim-token revoke', { tenant: t.slug, id: 'stk_missing' })).rejects.toThrow(/No SCIM token/);
    expect(await t.db.auditEvent.count({ where: { action: 'scim-token.revoke' } })).toBe(0);
  });
});
