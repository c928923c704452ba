import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { LOOPBACK_NETWORKS } from '../support/loopback-egress.js';
import { testMasterKey } from '../support/test-app.js';
import { GoogleFake } from './support/google-fake.js';

const run = promisify(execFile);

/**
 * The service-account key through the real CLI process (`--service-account-file`, debug logging): it is read, checked
 * with Google, stored encrypted in the vault, and appears nowhere else — not on stdout or stderr of any command
 * (including a refused key), not in the audit export, not in clear in any file of the data directory.
 */
describe('Google service-account key secrecy through the CLI process (pglite)', () => {
  let google: GoogleFake;
  let dir: string;
  beforeAll(async () => {
    google = await new GoogleFake(() => new Date()).start();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sb-gkey-'));
  });
  afterAll(async () => {
    await google?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function files(root: string): string[] {
    return readdirSync(root).flatMap((n) => {
      const p = path.join(root, n);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
  }

  it('never prints, logs, audits or writes the private key in clear', { timeout: 480_000 }, async () => {
    // The Google fake listens on loopback, which the egress policy admits only when told (docs/decisions/0059).
    const env: NodeJS.ProcessEnv = {
      ...process.env, DATA_DIR: path.join(dir, 'data'), MASTER_KEY: testMasterKey(), LOG_LEVEL: 'debug', NODE_ENV: 'test', OUTBOUND_ALLOWED_NETWORKS: LOOPBACK_NETWORKS,
    };
    delete env.DATABASE_URL;
    const outputs: string[] = [];
    const cli = async (...argv: string[]) => {
      try {
        const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--disable-warning=ExperimentalWarning', 'src/cli/main.ts', ...argv], { env, maxBuffer: 20_000_000 });
        outputs.push(stdout, stderr);
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        outputs.push(e.stdout, e.stderr);
        return { code: e.code, stdout: e.stdout };
      }
    };
    const sa = google.serviceAccount('secrecy');
    google.users.add('admin@acme.com');
    google.delegate(sa.clientId, allGoogleScopes());
    const keyPath = path.join(dir, 'key.json');
    writeFileSync(keyPath, sa.keyFile);
    const pem = JSON.parse(sa.keyFile).private_key as string;
    // The key's base64 body, line by line: any line of it showing up anywhere is a leak.
    const bodyLines = pem.split('\n').filter((l) => l && !l.startsWith('-----'));

    expect((await cli('tenant', 'create', '--slug', 'secrecy', '--name', 'Secrecy')).code).toBe(0);
    // A key Google refuses (another account's private key): refused, nothing printed of it.
    const other = google.serviceAccount('other');
    const forged = path.join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ ...JSON.parse(sa.keyFile), private_key: JSON.parse(other.keyFile).private_key }));
    expect((await cli('connector', 'add-google', '--tenant', 'secrecy', '--service-account-file', forged, '--admin-email', 'admin@acme.com', '--api-root', google.url)).code).toBe(1);

    const added = await cli('connector', 'add-google', '--tenant', 'secrecy', '--service-account-file', keyPath, '--admin-email', 'admin@acme.com', '--domain', 'acme.com', '--api-root', google.url);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ clientId: sa.clientId, keyCheck: { delegation: 'not_granted' } });
    expect(JSON.parse((await cli('connector', 'test', '--tenant', 'secrecy')).stdout)).toMatchObject({ ok: true });
    const exported = await cli('audit', 'export', '--tenant', 'secrecy');
    expect(exported.stdout).toContain('connector.add');

    const all = outputs.join('\n');
    expect(all).not.toContain('PRIVATE KEY');
    for (const line of bodyLines) expect(all).not.toContain(line);
    expect(all).not.toContain('private_key"');
    // On disk: only the key file we wrote holds it; the database files hold ciphertext.
    const leaks = files(path.join(dir, 'data')).filter((f) => {
      const bytes = readFileSync(f).toString('latin1');
      return bytes.includes('PRIVATE KEY') || bodyLines.some((l) => bytes.includes(l));
    });
    expect(leaks).toEqual([]);
  });
});
