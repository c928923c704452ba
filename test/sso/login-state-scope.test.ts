import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeLoginState, saveLoginState } from '../../src/sso/login-state.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(testDbKinds)('pending logins are spent only by their own tenant (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it("a request to tenant A presenting tenant B's pending login neither gets it nor spends it", async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    await saveLoginState(app.services, b, 'idp_b', '_b-request-id', { kind: 'saml' });
    expect(await consumeLoginState(app.services, a, '_b-request-id')).toBeNull();
    expect(await consumeLoginState(app.services, b, '_b-request-id')).toMatchObject({ tenantId: b.id, connectionId: 'idp_b' });
    expect(await consumeLoginState(app.services, b, '_b-request-id')).toBeNull(); // single use
  });
});
