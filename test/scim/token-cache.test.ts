import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(testDbKinds)('SCIM token verification cache (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const list = (slug: string, token: string) =>
    fetch(`${app.url}/t/${slug}/scim/v2/Users?count=0`, { headers: { authorization: `Bearer ${token}` } });

  it('refuses a cached token on the very next request after `scim-token revoke`', async () => {
    const t = await app.createTenant();
    const { id, token } = await createScimToken(t, app.url);
    expect((await list(t.slug, token)).status).toBe(200);
    expect((await list(t.slug, token)).status).toBe(200); // served from the cache
    await commands.find((c) => c.name === 'scim-token revoke')!.run(app.services, { tenant: t.slug, id });
    expect((await list(t.slug, token)).status).toBe(401);
  });

  it("never accepts tenant A's cached token on tenant B's base URL", async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const { token } = await createScimToken(a, app.url);
    expect((await list(a.slug, token)).status).toBe(200);
    expect((await list(b.slug, token)).status).toBe(401);
  });

  it('records when a token was last used', async () => {
    const t = await app.createTenant();
    const { id, token } = await createScimToken(t, app.url);
    expect((await list(t.slug, token)).status).toBe(200);
    const row = await t.db.scimToken.findUniqueOrThrow({ where: { id } });
    expect(row.lastUsedAt?.getTime()).toBe(app.clock.now().getTime());
  });
});
