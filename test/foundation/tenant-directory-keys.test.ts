import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKeys, openSigningKeys, sealedSigningKeysOf } from '../../src/oauth/signing-keys.js';
import { changeTenantStatus } from '../../src/tenants/change-tenant-status.js';
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

  describe('read ahead after tenant.changed (decision 0057)', () => {
    const tenants = () => app.services.tenants;

    it('a tenant this node held is read again at once, with its keys; the next request reads nothing', async () => {
      const t = await app.createTenant();
      await loadSigningKeys(app.services, t);
      await tenants().findActive(t.slug);
      rec.clear();
      await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
      await tenants().settled();
      expect(reads()).toBe(1);
      const ctx = (await tenants().findActive(t.slug))!;
      expect(reads()).toBe(1);
      expect(sealedSigningKeysOf(ctx)).toBeDefined();
    });

    it('the read ahead sees the change: a disabled tenant is refused by the next request without a read', async () => {
      const t = await app.createTenant();
      await tenants().findActive(t.slug);
      await changeTenantStatus(app.services, t.slug, 'disable', { kind: 'admin-cli' });
      await tenants().settled();
      rec.clear();
      expect(await tenants().findActive(t.slug)).toBeNull();
      expect(reads()).toBe(0);
    });

    it('another tenant’s change leaves this one cached and reads it nothing ahead', async () => {
      const t = await app.createTenant();
      const other = await app.createTenant();
      await tenants().findActive(t.slug);
      rec.clear();
      await app.services.bus.publish({ type: 'tenant.changed', tenantId: other.id });
      await tenants().settled();
      expect((await tenants().findActive(t.slug))?.id).toBe(t.id);
      expect(reads()).toBe(0);
    });

    it('a slug cached as unknown is read again after any tenant.changed (the event may have created or enabled it)', async () => {
      const t = await app.createTenant();
      await changeTenantStatus(app.services, t.slug, 'disable', { kind: 'admin-cli' });
      expect(await tenants().findActive(t.slug)).toBeNull(); // cached as refused
      await changeTenantStatus(app.services, t.slug, 'enable', { kind: 'admin-cli' });
      expect((await tenants().findActive(t.slug))?.id).toBe(t.id);
    });
  });
});
