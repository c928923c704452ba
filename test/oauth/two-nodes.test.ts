import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { rateRules } from '../../src/http/rate-limit.js';
import { tokenFailureLimits } from '../../src/oauth/token-failure-limit.js';
import { createServices, type Services } from '../../src/services.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, mcpUrl, obtainTokens } from './support/oauth-client.js';

/** A second node: its own services (caches, providers, bus listener) over the same database and PUBLIC_URL. */
async function startSecondNode(app: TestApp): Promise<{ s: Services; url: string; close(): Promise<void> }> {
  const s = await createServices(app.config, { clock: app.clock, logger: pino({ level: 'silent' }), database: app.services.database });
  const server = http.createServer(createApp(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await s.bus.start();
  return {
    s,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await s.bus.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each(testDbKinds)('two nodes over one database (%s)', (kind) => {
  let app: TestApp;
  let nodeB: Awaited<ReturnType<typeof startSecondNode>>;
  beforeAll(async () => {
    app = await startTestApp(kind);
    nodeB = await startSecondNode(app);
  });
  afterAll(async () => {
    await nodeB?.close();
    await app?.close();
  });

  it('rotates a refresh token once when both nodes receive it at the same moment', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const { client, tokens } = await obtainTokens(app, t, user.id);
    const refreshAt = async (base: string) => {
      const res = await fetch(`${base}/t/${t.slug}/oauth/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token!, client_id: client.client_id }).toString(),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    const [a, b] = await Promise.all([refreshAt(app.url), refreshAt(nodeB.url)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    const live = await t.db.oidcPayload.count({ where: { model: 'RefreshToken', consumedAt: null } });
    expect(live).toBe(1);
  });

  it('verifies on one node what the other issued, and drops it there when the user is revoked', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const { tokens } = await obtainTokens(app, t, user.id);
    const at = tokens.body.access_token!;
    expect(await nodeB.s.accessTokens.verify(t, at, mcpUrl(app, t))).not.toBeNull(); // now cached on B
    await app.services.revocation.revokeUser(t, user.id, 'scim.deactivated');
    await vi.waitFor(async () => expect(await nodeB.s.accessTokens.verify(t, at, mcpUrl(app, t))).toBeNull(), { timeout: 1000, interval: 20 });
  });

  it('a network whose token requests failed too often on one node is refused on the other, which had read its counters as below', async () => {
    const t = await app.createTenant();
    const ip = '198.51.100.23';
    const bad = (base: string) =>
      fetch(`${base}/t/${t.slug}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'nobody' }).toString(),
      });
    expect((await bad(nodeB.url)).status).toBe(401); // B read the counters (below) and counted one failure
    for (let i = 1; i < rateRules.tokenFailNet.limit; i++) expect((await bad(app.url)).status).toBe(401);
    // A's last count reached the limit and told every node (docs/decisions/0041); B assumed "below" until then.
    const [rule, scope] = tokenFailureLimits(t, ip)[0]!;
    const key = `${rule.name}|${scope}|${Math.floor(app.clock.now().getTime() / rule.windowMs)}`;
    await vi.waitFor(() => expect(nodeB.s.rateView.exhausted(key)).toBe(true), { timeout: 1000, interval: 20 });
    expect((await bad(nodeB.url)).status).toBe(429);
    expect((await bad(app.url)).status).toBe(429);
  });
});
