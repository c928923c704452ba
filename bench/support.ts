import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config/config.js';
import { startServer, type RunningServer } from '../src/http/start-server.js';
import { createServices, type Services } from '../src/services.js';
import { freePort, testMasterKey } from '../test/support/test-app.js';

/** A database of its own on the benchmark's PostgreSQL server, dropped afterwards. */
export async function scratchDatabase(serverUrl: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ssob_bench_${label}_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

export interface BenchApp {
  config: Config;
  services: Services;
  server: RunningServer;
  databaseUrl: string;
  close(): Promise<void>;
}

/** The real application on PostgreSQL (a scratch database), silent, on an ephemeral port. */
export async function startBenchApp(serverUrl: string, label: string): Promise<BenchApp> {
  const db = await scratchDatabase(serverUrl, label);
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), `sso-bench-${label}-`)),
    MASTER_KEY: testMasterKey(),
    LOG_LEVEL: 'silent',
  });
  const services = await createServices(config, { logger: pino({ level: 'silent' }) });
  const server = await startServer(services, { port, host: '127.0.0.1', adminEndpoint: false });
  return {
    config,
    services,
    server,
    databaseUrl: db.url,
    close: async () => {
      await server.close(1000);
      await db.drop();
    },
  };
}
