import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { recordStatements, statementLabel } from '../support/record-statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorize, createUser, mcpUrl, pkce, registerClient, signedInBrowser, tokenRequest } from './support/oauth-client.js';

/**
 * Statements per token request (issue 17 §5, docs/decisions/0035 and 0041), recorded at the drivers
 * (test/support/record-statements.ts) during ONE request, after a warm-up request of each grant, with the app's jobs
 * stopped. Not counted: the batched audit append (one per batch or window, not per request) and the tenant directory's read
 * (`tenant_by_slug`, src/tenants/find-tenant.ts), which it repeats once per 10 s of real time
 * (src/tenants/tenant-directory.ts) for all of the tenant's endpoints: a slow run would otherwise see it in the
 * counted request.
 */
const notPerRequest = new Set(['audit_append', 'audit_append_batches', 'tenant_by_slug']);

describe.each(testDbKinds)('statements per token request (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('authorization_code (PKCE): 3 statements; refresh_token (rotation): 2 — the user and the failure counters are known per node, the grant is read with the code or the claim', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t);
    const b = await signedInBrowser(app, t, user.id);
    const redirectUri = client.redirect_uris[0]!;
    const code = async () => {
      const { verifier, challenge } = pkce();
      const { redirect } = await authorize(app, b, {
        client_id: client.client_id, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge,
        code_challenge_method: 'S256', state: 'st', resource: mcpUrl(app, t),
      }, t);
      return { grant_type: 'authorization_code', code: redirect!.searchParams.get('code')!, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier };
    };
    const refresh = (token: string) => ({ grant_type: 'refresh_token', refresh_token: token, client_id: client.client_id });
    // Warm-up: the provider, its client cache, the signing keys, the user and the failure counters are loaded once.
    const first = await tokenRequest(app, t, await code());
    const second = await tokenRequest(app, t, refresh(first.body.refresh_token!));
    expect([first.status, second.status]).toEqual([200, 200]);

    const form = await code();
    const rec = await recordStatements(app);
    /** What the request itself cost, then clears. */
    const counted = () => rec.take().filter((s) => !notPerRequest.has(s.hot ?? '')).map(statementLabel);
    try {
      const byCode = await tokenRequest(app, t, form);
      const byCodeSent = counted();
      expect(byCode.status).toBe(200);
      expect(byCodeSent, byCodeSent.join('\n')).toHaveLength(3);

      const rowsBefore = await t.db.oidcPayload.count();
      rec.take();
      const byRefresh = await tokenRequest(app, t, refresh(byCode.body.refresh_token!));
      const byRefreshSent = counted();
      expect(byRefresh.status).toBe(200);
      expect(byRefreshSent, byRefreshSent.join('\n')).toHaveLength(2);
      // A rotation adds one row, the new token: its successor is recorded in the consumed token's row (decision 0052).
      expect(await t.db.oidcPayload.count()).toBe(rowsBefore + 1);
      expect(await t.db.oidcPayload.count({ where: { model: 'RefreshSuccessor' } })).toBe(0);
    } finally {
      rec.stop();
    }
  });
});
