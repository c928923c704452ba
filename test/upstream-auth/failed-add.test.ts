import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli } from '../mcp/support.js';
import { startUpstreamWithAs, type UpstreamWithAs } from './support/upstream-with-as.js';

describe.each(testDbKinds)('a per-user upstream whose add fails leaves nothing behind (%s)', (kind) => {
  let app: TestApp;
  let as: UpstreamWithAs;
  beforeAll(async () => {
    app = await startTestApp(kind);
    as = await startUpstreamWithAs({ dcr: false }); // no registration possible without a client of the admin's
  }, 60_000);
  afterAll(async () => {
    await as?.close();
    await app?.close();
  });

  it('refused after its headers were stored: neither the upstream nor the credential stays', async () => {
    const t = await app.createTenant();
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'gh', url: as.url, auth: 'oauth-per-user', header: ['X-Api-Key: s3cr3t-header-value'] })).rejects.toThrow(/neither client metadata documents nor dynamic registration/);
    expect(await t.db.upstream.count()).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { ownerKind: 'upstream-headers' } })).toBe(0);
  });
});
