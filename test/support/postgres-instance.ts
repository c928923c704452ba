import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The newest local PostgreSQL server binaries (Debian layout), or null when none are installed. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

export interface PostgresInstance {
  url(database?: string): string;
  start(): void;
  /** A fast shutdown: every connection is terminated, as in a real restart. */
  stop(): void;
  restart(): void;
  destroy(): void;
}

/**
 * A private PostgreSQL server (initdb in a temporary directory, a free port) for tests that stop or restart the
 * database: restarting the shared server would kill the connections of every other test file running meanwhile.
 * initdb refuses to run as root, so as root (CI) the binaries run as the `postgres` user.
 */
export function startPostgresInstance(port: number): PostgresInstance {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sso-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]] : [path.join(bin, tool), args];
    execFileSync(cmd, argv, { stdio: 'pipe' });
  };
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const opts = `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=60`;
  const ctl = (...args: string[]) => run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', ...args]);
  let running = false;
  const instance: PostgresInstance = {
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start() {
      ctl('-o', opts, 'start');
      running = true;
    },
    stop() {
      ctl('-m', 'fast', 'stop');
      running = false;
    },
    restart() {
      ctl('-m', 'fast', '-o', opts, 'restart');
      running = true;
    },
    destroy() {
      if (running) {
        try {
          ctl('-m', 'immediate', 'stop');
        } catch {
          // already gone
        }
        running = false;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // A crashed test must not leave a server behind.
  process.once('exit', () => instance.destroy());
  instance.start();
  return instance;
}
