import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../src/config/config.js';
import { createServices, type Services } from '../src/services.js';
import { freePort, testMasterKey } from '../test/support/test-app.js';

const scratchDirs = new Set<string>();

/** A directory of its own under the system's temporary directory (a node's DATA_DIR), removed when this process exits. */
export function scratchDir(label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sso-bench-${label}-`));
  if (scratchDirs.size === 0) process.once('exit', () => scratchDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  scratchDirs.add(dir);
  return dir;
}

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
      // BENCH_KEEP_DATABASE=1: left for inspection afterwards (pg_stat_user_tables, bloat); dropped by the next run.
      if (process.env.BENCH_KEEP_DATABASE === '1') return void (await admin.end());
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

const root = path.resolve(import.meta.dirname, '..');

/**
 * `node <these> dist/server.js` is how `npm start` runs the server (package.json): benchmarks start it the same way,
 * so they measure it as deployed (V8 flags included: docs/operations.md, "Memory").
 */
export const serverArgs: string[] = (() => {
  const start = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const args = start.split('&&').at(-1)!.trim().split(/\s+/);
  if (args[0] !== 'node' || args.at(-1) !== 'dist/server.js') throw new Error(`unexpected start script: ${start}`);
  return args.slice(1);
})();

/**
 * Starts a child process and resolves with its first stdout line (its URL, or its "ready"), skipping V8's trace lines
 * (`[pid:isolate] …`, from node flags such as `--trace-gc`), or with '' when `ready` says so.
 */
export function startProcess(command: string, args: string[], env: Record<string, string>, ready?: () => Promise<boolean>) {
  // BENCH_APP_STDOUT=<file>: a server's stdout (its log lines, and V8's trace lines with e.g. `--trace-gc-nvp`) appended
  // there instead of dropped.
  const keep = ready && process.env.BENCH_APP_STDOUT ? openSync(process.env.BENCH_APP_STDOUT, 'a') : undefined;
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', ready ? (keep ?? 'ignore') : 'pipe', 'inherit'] });
  const url = ready
    ? (async () => {
        while (!(await ready())) {
          if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        return '';
      })()
    : new Promise<string>((resolve, reject) => {
        // The interface keeps reading after the URL, so the child never blocks on a full stdout pipe.
        createInterface({ input: child.stdout! }).on('line', (line) => !line.startsWith('[') && resolve(line));
        child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
      });
  return { child, url };
}

/** CPU time (user + system) a process has used so far, in µs, from /proc (Linux). */
export function procCpuUs(pid: number | string): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return 0; // the process ended meanwhile
  }
}
export const cpuUs = (child: ChildProcess) => procCpuUs(child.pid!);

/**
 * CPU of every PostgreSQL server on this machine (the server may run elsewhere: then 0): each live process's, plus
 * its reaped children's (cutime/cstime: a postmaster's backends that exited). Without the latter, a connection that
 * closes during a measurement (a pool's idle timeout) took all the CPU it ever used out of the sum, which made the
 * difference negative (reported as 0) or too small.
 */
export function postgresCpuUs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1e6) / 100; // utime stime cutime cstime
    } catch {
      // gone
    }
  }
  return total;
}

/**
 * The postmaster of the PostgreSQL server behind `url` (the parent of a backend), or null when that server is not on
 * this machine. With it, `serverCpuUs` counts one server's processes only — other clusters on a shared machine
 * (other helpers' tests) stay out of the reading.
 */
export async function postmasterPid(url: string): Promise<number | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const stat = readFileSync(`/proc/${rows[0]!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(stat[1]); // ppid
  } catch {
    return null;
  } finally {
    await c.end();
  }
}

/**
 * CPU (µs) used so far by one PostgreSQL server: the postmaster, its live children, and — through the postmaster's
 * cutime/cstime — every child that has exited and been reaped (backends, autovacuum workers), which a sum over live
 * processes misses.
 */
export function serverCpuUs(postmaster: number): number {
  let total = 0;
  try {
    const f = readFileSync(`/proc/${postmaster}/stat`, 'utf8').split(') ')[1]!.split(' ');
    total += ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1e6) / 100; // utime stime cutime cstime
  } catch {
    return 0;
  }
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === postmaster) total += procCpuUs(pid);
    } catch {
      // gone
    }
  }
  return total;
}

/**
 * Runs `one` for each of `ids` at `concurrency` and prints a table row: this process's CPU and the PostgreSQL
 * server's (serverCpuUs of `postmaster`; NaN when it is not on this machine) per call, and the rate — the statement
 * cost scripts of bench/token.
 */
export async function printCostRow(label: string, ids: string[], concurrency: number, postmaster: number | null, one: (id: string) => Promise<void>): Promise<void> {
  const n = ids.length;
  const cpu0 = process.cpuUsage();
  const pg0 = postmaster === null ? 0 : serverCpuUs(postmaster);
  const run = await drive(n, concurrency, (i) => one(ids[i]!));
  const cpu = process.cpuUsage(cpu0);
  const pg = postmaster === null ? NaN : serverCpuUs(postmaster) - pg0;
  console.log(`| ${label} | ${((cpu.user + cpu.system) / n).toFixed(0)} µs | ${(pg / n).toFixed(0)} µs | ${((n / run.ms) * 1000).toFixed(0)}/s |`);
}

export async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/**
 * The application exactly as `npm start` runs it (`node dist/server.js`, built by bench/run.ts, logging one line per
 * request like production) on a scratch database; `ready` resolves once /readyz answers (migrations applied).
 * `services` opens this process's own services on the same database, to set data up (the application learns of
 * changes through the event bus); close them with `closeServices`.
 */
export async function startAppProcess(serverUrl: string, label: string, nodeArgs: string[] = [], opts: { migrateFirst?: boolean; env?: Record<string, string> } = {}) {
  const db = await scratchDatabase(serverUrl, label);
  const port = await freePort();
  const metricsPort = await freePort();
  const env = {
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: db.url,
    DATA_DIR: scratchDir(label),
    MASTER_KEY: testMasterKey(),
    // The benchmarks' upstreams listen on loopback, which the egress policy refuses by default (src/http/egress.ts).
    OUTBOUND_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128',
    ...opts.env,
  };
  // A release step (`sso-bridge migrate`) before the node starts: the node then starts warm, as every node but the
  // first of a release does, and never loads the schema engine.
  if (opts.migrateFirst) execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', 'dist/cli/main.js', 'migrate'], { cwd: root, env: { ...process.env, ...env, LOG_LEVEL: 'silent' }, stdio: 'ignore' });
  // The benchmark's own flags after the start script's, so they override them (V8: the last of a flag wins).
  const app = startProcess(process.execPath, [...serverArgs.slice(0, -1), ...nodeArgs, serverArgs.at(-1)!], { ...env, LOG_LEVEL: 'info' }, () =>
    fetch(`${env.PUBLIC_URL}/readyz`).then((r) => r.ok, () => false),
  );
  return {
    db,
    publicUrl: env.PUBLIC_URL,
    child: app.child,
    ready: app.url,
    // The node's metrics listener (a caller's env may name another port).
    metricsUrl: `http://127.0.0.1:${env.METRICS_PORT}/metrics`,
    services: () => createServices(loadConfig({ ...env, LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) }),
  };
}

/**
 * The node's garbage collections so far, from its own metrics (prom-client's `nodejs_gc_duration_seconds`, by kind):
 * how many full (mark-compact) collections, and the main thread's GC pause time in µs. The concurrent marking done on
 * V8's worker threads is not in the pause time; it shows in the process's CPU.
 */
export async function gcTotals(metricsUrl: string): Promise<{ major: number; pauseUs: number }> {
  const text = await (await fetch(metricsUrl)).text();
  let major = 0;
  let pauseUs = 0;
  for (const line of text.split('\n')) {
    const m = /^sso_bridge_nodejs_gc_duration_seconds_(count|sum)\{kind="(\w+)"\} ([\d.e+-]+)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'count' && m[2] === 'major') major += Number(m[3]);
    if (m[1] === 'sum') pauseUs += Number(m[3]) * 1e6;
  }
  return { major, pauseUs };
}

export async function closeServices(s: Services): Promise<void> {
  await s.bus.stop();
  await s.database.close();
}

/** The p-th percentile of an ascending list. */
export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/**
 * Runs `n` requests with `concurrency` in flight (`worker`: which of the `concurrency` loops sends request `i`, for
 * per-loop state such as a refresh-token chain); returns wall time and each request's latency, ascending.
 */
export async function drive(n: number, concurrency: number, one: (i: number, worker: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await one(i, worker);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { ms: performance.now() - started, latencies: latencies.sort((a, b) => a - b) };
}

/**
 * `drive` with the CPU it cost: per request, of the `hop` process (the server under test), of this process (the load
 * generator) and of PostgreSQL (every PostgreSQL process on the machine), and the throughput.
 */
export async function measure(hop: ChildProcess, n: number, concurrency: number, one: (i: number, worker: number) => Promise<void>) {
  const hop0 = cpuUs(hop);
  const pg0 = postgresCpuUs();
  const own0 = process.cpuUsage();
  const run = await drive(n, concurrency, one);
  const own = process.cpuUsage(own0);
  return {
    latencies: run.latencies,
    perSec: (n / run.ms) * 1000,
    hopCpuUs: (cpuUs(hop) - hop0) / n,
    clientCpuUs: (own.user + own.system) / n,
    pgCpuUs: Math.max(0, postgresCpuUs() - pg0) / n,
  };
}

/** VmRSS of a process in MB, from /proc (Linux); 0 when unknown. */
export function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
