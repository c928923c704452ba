import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, testMasterKey } from '../test/support/test-app.js';
import { scratchDatabase, scratchDir, serverArgs } from './support.js';

const root = path.resolve(import.meta.dirname, '..');

export interface StartupSample {
  ms: number;
  rssMb: number;
}

/** Starts `node <script>` and measures time to a 200 from /healthz, then RSS after a short idle period. */
async function measure(args: string[], env: Record<string, string>, port: number): Promise<StartupSample> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const ms = performance.now() - started;
    await new Promise((r) => setTimeout(r, 1500)); // idle
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { ms, rssMb: rssKb / 1024 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** The floor: a bare Node HTTP server answering /healthz (same machine, same run). */
const bareServer = `require('http').createServer((q,s)=>s.end('{"status":"ok"}')).listen(process.env.PORT)`;

export async function benchStartup(databaseUrl: string | undefined) {
  const results: Record<string, StartupSample | string> = {};
  const baseline = await measure(['-e', bareServer], {}, await freePort());
  results['bare node http (baseline)'] = baseline;
  const masterKey = testMasterKey();
  const server = serverArgs;

  const dataDir = scratchDir('startup');
  results['PGlite cold start (fresh DATA_DIR, migrations)'] = await measure(server, { DATA_DIR: dataDir, MASTER_KEY: masterKey }, await freePort());
  results['PGlite warm start (same DATA_DIR)'] = await measure(server, { DATA_DIR: dataDir, MASTER_KEY: masterKey }, await freePort());

  if (databaseUrl) {
    const db = await scratchDatabase(databaseUrl, 'startup');
    const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, MASTER_KEY: masterKey };
    try {
      results['PostgreSQL cold start (empty database, migrations)'] = await measure(server, env, await freePort());
      results['PostgreSQL warm start'] = await measure(server, env, await freePort());
    } finally {
      await db.drop();
    }
  } else {
    results['PostgreSQL'] = 'skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)';
  }
  return { baseline, results };
}
