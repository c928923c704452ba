import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorize, createUser, mcpUrl, pkce, registerClient, signedInBrowser, tokenRequest } from './support/oauth-client.js';

/**
 * Statements per token request (issue 17 §5, docs/decisions/0035 and 0041), counted deterministically by wrapping the
 * driver's query method (pg's Client on PostgreSQL, which the pool and Prisma's adapter both use; PGlite's query on
 * the embedded database) during ONE request, after a warm-up request of each grant. Not counted: the event bus
 * (LISTEN, its heartbeat, NOTIFY), the batched audit append (one per batch, not per request) and the slug's tenant
 * lookup (`tenant_by_slug`, src/tenants/find-tenant.ts), which the tenant directory repeats once per 10 s of real time (src/tenants/tenant-directory.ts), for all
 * of the tenant's endpoints: a slow run would otherwise see it in the counted request. Likewise the periodic jobs'
 * lease (`JobLease`, src/jobs), which a run slowed by a loaded machine saw once inside the counted request.
 */
const background = /sso_bridge_bus_heartbeat|^LISTEN|pg_notify|audit|FROM "Tenant" WHERE "slug" = \$1|"JobLease"/i;

function countStatements() {
  const sent: string[] = [];
  const owners = [pg.Client.prototype, Object.getPrototypeOf(PGlite.prototype) as object, PGlite.prototype].filter((p) => Object.hasOwn(p, 'query'));
  const restore = owners.map((owner) => {
    const o = owner as { query: (...args: unknown[]) => unknown };
    const original = o.query;
    o.query = function (this: unknown, ...args: unknown[]) {
      const first = args[0];
      const text = typeof first === 'string' ? first : String((first as { text?: unknown } | undefined)?.text ?? '');
      if (!background.test(text)) sent.push(text.replace(/\s+/g, ' ').trim());
      return original.apply(this, args);
    };
    return () => void (o.query = original);
  });
  return { sent, stop: () => restore.forEach((r) => r()) };
}

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
    const counting = countStatements();
    const byCode = await tokenRequest(app, t, form);
    counting.stop();
    expect(byCode.status).toBe(200);
    expect(counting.sent, counting.sent.join('\n')).toHaveLength(3);

    const rowsBefore = await t.db.oidcPayload.count();
    const again = countStatements();
    const byRefresh = await tokenRequest(app, t, refresh(byCode.body.refresh_token!));
    again.stop();
    expect(byRefresh.status).toBe(200);
    expect(again.sent, again.sent.join('\n')).toHaveLength(2);
    // A rotation adds one row, the new token: its successor is recorded in the consumed token's row (decision 0052).
    expect(await t.db.oidcPayload.count()).toBe(rowsBefore + 1);
    expect(await t.db.oidcPayload.count({ where: { model: 'RefreshSuccessor' } })).toBe(0);
  });
});
