import { afterAll, beforeAll } from 'vitest';
import type { TestDbKind } from '../../support/databases.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { createTestCa } from '../../oauth/support/test-ca.js';
import { oktaRuntime } from '../../../src/connectors/okta/okta-client.js';
import { OktaFake } from './okta-fake.js';

/**
 * The app plus an Okta fake over https with a certificate of a throw-away test CA, which the app trusts only through
 * the test-only DANGEROUSLY_CONNECTOR_CA_FILE (and reaches on 127.0.0.1 only through DANGEROUSLY_ALLOW_CONNECTOR_HOSTS).
 * Rate-limit waits are recorded, not slept.
 */
export function useOktaApp(kind: TestDbKind, use: (app: TestApp, okta: OktaFake, waits: number[]) => void): void {
  let app: TestApp | undefined;
  let okta: OktaFake | undefined;
  beforeAll(async () => {
    const ca = createTestCa();
    okta = await new OktaFake(ca).start();
    app = await startTestApp(kind, { DANGEROUSLY_ALLOW_CONNECTOR_HOSTS: okta.host, DANGEROUSLY_CONNECTOR_CA_FILE: ca.caFile });
    const waits: number[] = [];
    Object.assign(oktaRuntime(app.services).retry, { sleep: async (ms: number) => void waits.push(ms) });
    use(app, okta, waits);
  });
  afterAll(async () => {
    await app?.close();
    await okta?.close();
  });
}
