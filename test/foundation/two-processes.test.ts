import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { CACHE_TRUST_MS } from '../../src/revocation/event-bus.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import { createServices, type Services } from '../../src/services.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { adminQuery } from '../support/global-setup.js';
import { startAppProcess, waitReady, type AppProcess } from '../support/app-process.js';
import { postgresBinDir, startPostgresInstance, type PostgresInstance } from '../support/postgres-instance.js';
import { freePort, testMasterKey, type TestApp } from '../support/test-app.js';
import { obtainTokens } from '../oauth/support/oauth-client.js';
import { PATCH_OP } from '../scim/scim-client.js';

/**
 * Two server PROCESSES on one PostgreSQL — a private server started by this file, because it is killed and restarted
 * (the shared one serves every other test file at the same time). Node B has cached a user's access token; the user
 * is deprovisioned through node A while B's LISTEN connection is being killed, and while PostgreSQL restarts. B must
 * refuse the token within the bus's stated bound every time. Runs wherever PostgreSQL's binaries are installed (CI),
 * with or without TEST_DATABASE_URL.
 */
// Generous per-test time: a PostgreSQL restart and two nodes' reconnects on a machine busy with the rest of the suite.
describe.runIf(postgresBinDir())('two processes on one PostgreSQL under faults', { timeout: 150_000 }, () => {
  let pg: PostgresInstance;
  let a: AppProcess;
  let b: AppProcess;
  let admin: Services;
  let t: TenantCtx;
  let scim: { token: string; base: string };
  beforeAll(async () => {
    pg = startPostgresInstance(await freePort());
    await adminQuery(pg.url(), 'CREATE DATABASE sso');
    const [portA, portB] = [await freePort(), await freePort()];
    const publicUrl = `http://127.0.0.1:${portA}`; // one public name for both nodes, as behind a load balancer
    const env = { PUBLIC_URL: publicUrl, MASTER_KEY: testMasterKey() };
    const node = (name: string, port: number) => ({
      ...env,
      PORT: String(port),
      DATABASE_URL: `${pg.url('sso')}?application_name=${name}`,
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), `sso-${name}-`)),
    });
    // This test process is the operator's CLI: same database and key, no HTTP server of its own.
    admin = await createServices(loadConfig({ ...node('cli', portA), LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) });
    await admin.database.migrate();
    a = startAppProcess(node('node-a', portA));
    b = startAppProcess(node('node-b', portB));
    await Promise.all([waitReady(a), waitReady(b)]);
    await createTenant(admin.db, { slug: 'faults', name: 'Faults' });
    t = (await findTenantBySlug(admin.db, 'faults'))!;
    const created = await createScimToken(t, publicUrl);
    scim = { token: created.token, base: created.baseUrl };
  }, 180_000);
  afterAll(async () => {
    for (const p of [a, b]) p?.child.kill('SIGKILL');
    await Promise.all([a?.exited, b?.exited]);
    await admin?.database.close().catch(() => undefined);
    pg?.destroy();
  });

  const scimCall = (method: string, p: string, body: unknown) =>
    fetch(`${scim.base}${p}`, { method, headers: { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' }, body: JSON.stringify(body) });

  /** A user with a token that node B has verified (and cached). */
  async function userWithTokenCachedOnB(userName: string) {
    const res = await scimCall('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, active: true });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const { tokens } = await obtainTokens({ url: a.url, services: admin } as unknown as TestApp, t, id);
    const token = tokens.body.access_token!;
    expect(await toolsListOnB(token)).toBe(200);
    return { id, token };
  }

  const toolsListOnB = async (token: string) => {
    try {
      return (await fetch(`${b.url}/t/${t.slug}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      })).status;
    } catch (err) {
      // Node B unreachable is never "refused in time": say why (its last log lines and stderr) instead of a bare fetch error.
      throw new Error(`node B unreachable: ${String(err)}\nlast log lines: ${JSON.stringify(messagesOf(b).slice(-15))}\nstderr: ${b.stderr().slice(-2_000)}`, { cause: err });
    }
  };

  /** Deactivates through node A as an IdP would: retrying until it gets a 2xx. Returns when it got it. */
  async function deactivateOnA(userId: string): Promise<number> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      const res = await scimCall('PATCH', `/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }).catch((err: unknown) => String(err));
      if (typeof res !== 'string' && res.ok) return Date.now();
      last = typeof res === 'string' ? res : `${res.status} ${await res.text()}`;
      await new Promise((r) => setTimeout(r, 100));
    }
    // An IdP would keep retrying; a test must say why node A never acknowledged.
    throw new Error(`node A never acknowledged the deactivation (last answer: ${last})\nlast log lines: ${JSON.stringify(messagesOf(a).slice(-15))}`);
  }

  async function expectRefusedOnBWithinBound(token: string, since: number) {
    await expect.poll(() => toolsListOnB(token), { timeout: CACHE_TRUST_MS + 2_000, interval: 50 }).toBe(401);
    expect(Date.now() - since).toBeLessThan(CACHE_TRUST_MS);
  }

  const messagesOf = (p: AppProcess) => p.logs().map((l) => l.msg);

  it('revokes on the other node within the bound when its LISTEN connection is terminated', async () => {
    const leaver = await userWithTokenCachedOnB('listener-killed@example.com');
    const stayer = await userWithTokenCachedOnB('stayer@example.com');
    const { rows } = await adminQuery(
      pg.url('sso'),
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE application_name = 'node-b' AND pid <> pg_backend_pid()
          AND (query LIKE 'LISTEN %' OR query LIKE '%sso_bridge_bus_heartbeat%')`,
    );
    expect(rows).toEqual([{ ok: true }]);
    const at = await deactivateOnA(leaver.id);
    await expectRefusedOnBWithinBound(leaver.token, at);
    // At least once: on a loaded machine a slow heartbeat may make B reconnect once more, which is just as correct.
    await expect.poll(() => messagesOf(b).filter((m) => m.startsWith('event bus listening again')).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(messagesOf(b).some((m) => m.startsWith('event bus lost its LISTEN connection'))).toBe(true);
    expect(messagesOf(a).some((m) => m.startsWith('event bus lost'))).toBe(false);
    // Every cache on B was dropped, and what is still valid verifies again.
    expect(await toolsListOnB(stayer.token)).toBe(200);
  });

  it('reports not ready while PostgreSQL is down, comes back by itself, and revokes within the bound afterwards', async () => {
    const leaver = await userWithTokenCachedOnB('after-restart@example.com');
    const stayer = await userWithTokenCachedOnB('stays-after-restart@example.com');
    const resumedBefore = messagesOf(b).filter((m) => m.startsWith('event bus listening again')).length;
    pg.stop();
    try {
      await expect.poll(async () => {
        const res = await fetch(`${b.url}/readyz`);
        return [res.status, ((await res.json()) as { bus: string }).bus];
      }, { timeout: 10_000, interval: 50 }).toEqual([503, 'down']);
      // Liveness is not readiness: the process stays up.
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    } finally {
      pg.start();
    }
    await Promise.all([waitReady(a, 30_000), waitReady(b, 30_000)]);
    // B turns ready the moment its bus listens; its log line about it travels through a pipe and may arrive after.
    await expect.poll(() => messagesOf(b).filter((m) => m.startsWith('event bus listening again')).length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(resumedBefore + 1);

    const at = await deactivateOnA(leaver.id);
    await expectRefusedOnBWithinBound(leaver.token, at);
    expect(await toolsListOnB(stayer.token)).toBe(200);
  });

  it('survives a PostgreSQL restart in one step (pg_ctl restart) with revocation still reaching the other node', async () => {
    const leaver = await userWithTokenCachedOnB('restart@example.com');
    pg.restart();
    const at = await deactivateOnA(leaver.id);
    await expectRefusedOnBWithinBound(leaver.token, at);
    await waitReady(b, 30_000);
  });
});
