import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKeys, openSigningKeys, sealedSigningKeysOf } from '../../src/oauth/signing-keys.js';
import { testDbKinds } from '../support/databases.js';
import { recordStatements, type StatementRecorder } from '../support/record-statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The tenant directory's read brings the tenant's sealed signing keys along (decision 0043), and a read that
 * overlapped a 'tenant.changed' — which may predate the change — serves its own request only: not cached, no keys.
 */
describe.each(testDbKinds)('tenant directory and the sealed signing keys (%s)', (kind) => {
  let app: TestApp;
  let rec: StatementRecorder;
  beforeAll(async () => {
    app = await startTestApp(kind);
    rec = await recordStatements(app);
  });
  afterAll(async () => {
    rec?.stop();
    await app?.close();
  });
  const reads = () => rec.sent.filter((s) => s.hot === 'tenant_by_slug').length;

  it('one statement reads the tenant and its sealed keys; the vault opens them to the stored material', async () => {
    const t = await app.createTenant();
    const stored = await loadSigningKeys(app.services, t);
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
    rec.clear();
    const ctx = (await app.services.tenants.findActive(t.slug))!;
    expect(rec.sent.map((s) => s.hot)).toEqual(['tenant_by_slug']);
    const sealed = sealedSigningKeysOf(ctx);
    expect(sealed).toBeDefined();
    expect(await openSigningKeys(app.services, ctx, sealed!.sealed)).toEqual(stored);
    expect(rec.sent.map((s) => s.hot)).toEqual(['tenant_by_slug']); // the keys needed no read of their own
  });

  it('a tenant without keys yet resolves without sealed keys', async () => {
    const t = await app.createTenant();
    const ctx = (await app.services.tenants.findActive(t.slug))!;
    expect(ctx.id).toBe(t.id);
    expect(sealedSigningKeysOf(ctx)).toBeUndefined();
  });

  it('a read that overlapped tenant.changed serves its request but is neither cached nor given the keys', async () => {
    const t = await app.createTenant();
    await loadSigningKeys(app.services, t);
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
    rec.clear();
    const reading = app.services.tenants.findActive(t.slug); // its statement is sent before the event below
    void app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
    const overlapped = (await reading)!;
    expect(overlapped.id).toBe(t.id);
    expect(sealedSigningKeysOf(overlapped)).toBeUndefined();
    expect(reads()).toBe(1);
    const next = (await app.services.tenants.findActive(t.slug))!;
    expect(reads()).toBe(2);
    expect(sealedSigningKeysOf(next)).toBeDefined();
    await app.services.tenants.findActive(t.slug);
    expect(reads()).toBe(2); // this one was cached
  });
});
