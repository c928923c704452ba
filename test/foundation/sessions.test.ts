import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { hashToken } from '../../src/lib/secrets.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(testDbKinds)('session store (%s)', (kind) => {
  let app: TestApp;
  let t: TenantCtx;
  let other: TenantCtx;
  beforeAll(async () => {
    app = await startTestApp(kind);
    t = await app.createTenant();
    other = await app.createTenant();
  });
  afterAll(() => app?.close());

  const user = async (tenant = t) => {
    const id = newId('usr');
    await tenant.db.user.create({ data: { id, tenantId: tenant.id, userName: id, userNameKey: id } });
    return id;
  };

  it('stores only a hash of the token', async () => {
    const s = await app.services.sessions.create(t, { userId: await user() });
    const row = await t.db.session.findUniqueOrThrow({ where: { id: s.id } });
    expect(row.tokenHash).toBe(hashToken(s.token));
    expect(JSON.stringify(row)).not.toContain(s.token);
  });

  it('expires after the idle timeout, and slides it while used', async () => {
    const s = await app.services.sessions.create(t, { userId: await user() });
    app.clock.advance(20 * 60_000);
    expect(await app.services.sessions.resolve(t, s.token)).not.toBeNull();
    app.clock.advance(20 * 60_000); // 40 min after start, 20 after last use
    expect(await app.services.sessions.resolve(t, s.token)).not.toBeNull();
    app.clock.advance(31 * 60_000);
    expect(await app.services.sessions.resolve(t, s.token)).toBeNull();
  });

  it('expires at the absolute timeout however active', async () => {
    const s = await app.services.sessions.create(t, { userId: await user() });
    for (let i = 0; i < 26; i++) {
      app.clock.advance(29 * 60_000);
      await app.services.sessions.resolve(t, s.token);
    }
    // 26 × 29 min > 12 h
    expect(await app.services.sessions.resolve(t, s.token)).toBeNull();
  });

  it('refuses a session of another tenant and an inactive user', async () => {
    const s = await app.services.sessions.create(t, { userId: await user() });
    expect(await app.services.sessions.resolve(other, s.token)).toBeNull();
    const inactive = await user();
    const s2 = await app.services.sessions.create(t, { userId: inactive });
    await t.db.user.update({ where: { id: inactive }, data: { active: false } });
    expect(await app.services.sessions.resolve(t, s2.token)).toBeNull();
  });
});
