import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startServer } from '../../src/http/start-server.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createServices, type Services } from '../../src/services.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, type TestDbKind } from './databases.js';
import { LOOPBACK_NETWORKS } from './loopback-egress.js';

export interface TestApp {
  services: Services;
  clock: ManualClock;
  /** Base URL of the running server (= PUBLIC_URL). */
  url: string;
  config: Config;
  /** The Prometheus listener when METRICS_PORT was given. */
  metricsUrl?: string | undefined;
  createTenant(slug?: string, name?: string): Promise<TenantCtx>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export const testMasterKey = () => `mk-test:${randomBytes(32).toString('base64')}`;

/** Starts the real application on an ephemeral port over a fresh database, with a manual clock. */
export async function startTestApp(kind: TestDbKind, env: Record<string, string> = {}): Promise<TestApp> {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'sso-bridge-app-')),
    MASTER_KEY: testMasterKey(),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    NODE_ENV: 'test',
    // The tests' upstreams and fakes listen on loopback, which the egress policy refuses by default (src/http/egress.ts).
    OUTBOUND_ALLOWED_NETWORKS: LOOPBACK_NETWORKS,
    ...env,
  });
  const clock = new ManualClock(new Date());
  const database = await openTestDatabase(kind);
  const logger = pino({ level: config.logLevel });
  const services = await createServices(config, { clock, logger, database });
  const server = await startServer(services, { port, host: '127.0.0.1', adminEndpoint: false });
  let n = 0;
  return {
    services,
    clock,
    url: config.publicUrl,
    config,
    metricsUrl: server.metricsUrl,
    async createTenant(slug = `t${Date.now().toString(36)}${n++}`, name = `Tenant ${slug}`) {
      await createTenant(services.db, { slug, name });
      return (await findTenantBySlug(services.db, slug))!;
    },
    close: () => server.close(1000),
  };
}
