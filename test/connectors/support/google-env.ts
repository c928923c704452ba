import { afterAll, beforeAll } from 'vitest';
import type { TestDbKind } from '../../support/databases.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { useFakeVerifier, type FakeVerifier } from '../../mcp/support.js';
import { googleRuntime } from '../../../src/connectors/google/google-tokens.js';
import { GoogleFake } from './google-fake.js';

/** The app (fake MCP token verifier) plus a Google fake on the app's manual clock; Google retries without waiting. */
export function useGoogleApp(kind: TestDbKind, use: (app: TestApp, verifier: FakeVerifier, google: GoogleFake) => void): void {
  let app: TestApp | undefined;
  let google: GoogleFake | undefined;
  beforeAll(async () => {
    const started = await startTestApp(kind);
    app = started;
    google = await new GoogleFake(() => started.clock.now()).start();
    Object.assign(googleRuntime(started.services).retry, { baseDelayMs: 1, maxDelayMs: 5 });
    use(started, useFakeVerifier(started), google);
  });
  afterAll(async () => {
    await google?.close();
    await app?.close();
  });
}
