import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, testMasterKey } from '../support/test-app.js';

const root = path.resolve(import.meta.dirname, '..', '..');

/** Runs `src/<entry>` in a real Node process (through tsx), as `npm start` / `npm run cli` would. */
function run(entry: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--disable-warning=ExperimentalWarning', path.join(root, entry), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitForHealth(url: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('server exited before becoming healthy');
}

describe('the real processes', () => {
  it('exit non-zero on bad configuration with one line per problem and no stack trace', async () => {
    const p = run('src/server.ts', [], { PORT: 'nope', DATABASE_URL: 'mysql://x', NODE_ENV: 'production' });
    expect(await p.exited).toBe(1);
    const err = p.err();
    expect(err).toContain('Invalid configuration');
    expect(err).toMatch(/PORT: /);
    expect(err).toMatch(/DATABASE_URL: /);
    expect(err).toMatch(/MASTER_KEY: is required/);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('serves, refuses a second process on the same data directory, and stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-proc-'));
    const port = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port), MASTER_KEY: testMasterKey() };
    const server = run('src/server.ts', [], { ...env, LOG_LEVEL: 'info' });
    await waitForHealth(`http://127.0.0.1:${port}`, server.exited);

    const second = run('src/server.ts', [], { ...env, PORT: String(await freePort()) });
    expect(await second.exited).toBe(1);
    expect(second.err()).toMatch(/already open in process \d+/);
    expect(second.err()).not.toMatch(/\n\s+at /);

    // The CLI, meanwhile, works through the running server.
    const cli = run('src/cli/main.ts', ['tenant', 'create', '--slug', 'proc-test', '--name', 'Proc'], env);
    expect(await cli.exited).toBe(0);
    expect(JSON.parse(cli.out())).toMatchObject({ slug: 'proc-test' });
    expect(cli.out().trim().split('\n')).toHaveLength(1);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.err()).not.toMatch(/error/i);
    // Log lines are written in batches (src/lib/log-destination.ts); the last ones still reach stdout on exit.
    const messages = server.out().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toContain('sso-bridge listening');
    expect(messages.at(-1)).toBe('stopped');
  }, 180_000);

  it('generates a development master key once, mode 0600, with a warning', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-mk-'));
    const cli = run('src/cli/main.ts', ['tenant', 'list'], { DATA_DIR: dataDir });
    expect(await cli.exited).toBe(0);
    expect(cli.err()).toMatch(/generated a development master key/);
    const { statSync, readFileSync } = await import('node:fs');
    const file = path.join(dataDir, 'master.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = readFileSync(file, 'utf8');
    const again = run('src/cli/main.ts', ['tenant', 'list'], { DATA_DIR: dataDir });
    expect(await again.exited).toBe(0);
    expect(again.err()).not.toMatch(/generated/);
    expect(readFileSync(file, 'utf8')).toBe(first);
  }, 180_000);
});
