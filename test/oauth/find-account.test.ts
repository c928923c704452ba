import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { findActiveAccount as findAccount } from '../../src/oauth/payload-statements.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The authorization server's account lookup (`findAccount`, read on every token request) is raw SQL since issue 17
 * §5: it binds the tenant itself. A user of another tenant, or an inactive one, is no account here.
 */
describe.each(testDbKinds)('findAccount of a tenant’s authorization server (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  async function user(t: TenantCtx, active = true) {
    const email = `${randomBytes(4).toString('hex')}@example.com`;
    return t.db.user.create({ data: { id: newId('usr'), tenantId: t.id, userName: email, userNameKey: email, email, displayName: 'Ann', source: 'manual', active } });
  }

  it('finds an active user of this tenant; never another tenant’s user or an inactive one', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const ann = await user(a);
    expect(await findAccount(a, ann.id)).toEqual({ id: ann.id, email: ann.email, displayName: 'Ann' });
    expect(await findAccount(b, ann.id)).toBeUndefined();
    expect(await findAccount(a, (await user(a, false)).id)).toBeUndefined();
    expect(await findAccount(a, 'usr_unknown')).toBeUndefined();
  });
});
