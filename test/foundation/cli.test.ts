import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminFiles } from '../../src/admin/admin-endpoint.js';
import type { Command } from '../../src/cli/command-table.js';
import { runCli } from '../../src/cli/main.js';
import { parseCommandArgs } from '../../src/cli/parse-args.js';
import { loadConfig } from '../../src/config/config.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { createServices } from '../../src/services.js';
import { openTestDatabase } from '../support/databases.js';
import { freePort, testMasterKey } from '../support/test-app.js';

async function cli(env: Record<string, string>, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    stdin: async () => 'from-stdin\n',
    env: { LOG_LEVEL: 'silent', ...env },
  });
  return { code, out, err, json: out.length === 1 && code === 0 ? JSON.parse(out[0]!) : undefined };
}

/** The same scenario in both database modes: every command prints exactly one JSON object. */
function commandScenario(envFor: () => Record<string, string>, serverRan = false) {
  it('creates, lists, disables and re-enables tenants', async () => {
    const env = envFor();
    const created = await cli(env, 'tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp');
    expect(created.code).toBe(0);
    expect(Object.keys(created.json).sort()).toEqual(['id', 'name', 'slug']);
    expect(created.json).toMatchObject({ slug: 'acme', name: 'Acme Corp' });
    const listed = await cli(env, 'tenant', 'list');
    expect(listed.json.tenants.map((t: { slug: string }) => t.slug)).toContain('acme');
    expect((await cli(env, 'tenant', 'disable', '--tenant', 'acme')).json).toMatchObject({ status: 'disabled' });
    expect((await cli(env, 'tenant', 'enable', '--tenant', 'acme')).json).toMatchObject({ status: 'active' });
  });

  it('creates a SCIM token shown once, lists it without the secret, revokes it', async () => {
    const env = envFor();
    await cli(env, 'tenant', 'create', '--slug', 'globex', '--name', 'Globex');
    const created = await cli({ ...env, PUBLIC_URL: 'https://the-cli-machine.example' }, 'scim-token', 'create', '--tenant', 'globex', '--label', 'Okta');
    expect(Object.keys(created.json).sort()).toEqual(['baseUrl', 'id', 'token']);
    if (serverRan) {
      // The server's PUBLIC_URL (as it recorded it) + /t/{slug}/scim/v2, never the CLI's environment
      expect(created.json.baseUrl).toMatch(/^http:\/\/localhost:\d+\/t\/globex\/scim\/v2$/);
    } else {
      // No server ever ran on this database: the CLI's own PUBLIC_URL is all there is (the CLI works without a server).
      expect(created.json.baseUrl).toBe('https://the-cli-machine.example/t/globex/scim/v2');
    }
    const listed = await cli(env, 'scim-token', 'list', '--tenant', 'globex');
    expect(JSON.stringify(listed.json)).not.toContain(created.json.token);
    expect(listed.json.tokens[0]).toMatchObject({ id: created.json.id, label: 'Okta', revokedAt: null });
    expect((await cli(env, 'scim-token', 'revoke', '--tenant', 'globex', '--id', created.json.id)).json).toEqual({ id: created.json.id, revoked: true });
  });

  it('shows and changes tenant settings, refusing bad values', async () => {
    const env = envFor();
    await cli(env, 'tenant', 'create', '--slug', 'settings-co', '--name', 'S');
    expect((await cli(env, 'tenant', 'settings', '--tenant', 'settings-co')).json).toEqual({
      slug: 'settings-co',
      settings: { dynamicClientRegistration: true, reconsentOnNewTools: false, crossAppAccess: true, provisioning: 'scim', directorySyncIntervalMinutes: 15, reconcile: { scheduled: true, intervalMinutes: 60, createMissing: false, maxDeactivatePercent: 10, maxDeactivateCount: 50 } },
    });
    const changed = await cli(env, 'tenant', 'settings', '--tenant', 'settings-co', '--dynamic-client-registration', 'off', '--admin-group', 'IT Admins', '--cross-app-access', 'off');
    expect(changed.json.settings).toEqual({ dynamicClientRegistration: false, reconsentOnNewTools: false, adminGroup: 'IT Admins', crossAppAccess: false, provisioning: 'scim', directorySyncIntervalMinutes: 15, reconcile: { scheduled: true, intervalMinutes: 60, createMissing: false, maxDeactivatePercent: 10, maxDeactivateCount: 50 } });
    const bad = await cli(env, 'tenant', 'settings', '--tenant', 'settings-co', '--reconsent-on-new-tools', 'maybe');
    expect(bad.code).toBe(1);
    expect(bad.err[0]).toMatch(/on or off/);
  });

  it('migrates (nothing left to apply) and rotates the vault', async () => {
    const env = envFor();
    expect((await cli(env, 'migrate')).json).toEqual({ applied: [] });
    const rotated = await cli(env, 'vault', 'rotate');
    expect(rotated.code).toBe(0);
    expect(rotated.json).toMatchObject({ masterKeyId: 'mk-test', secretsFailed: [] });
    expect(rotated.json.tenants).toBeGreaterThanOrEqual(1);
  });

  it('explains mistakes on stderr with a non-zero exit and nothing on stdout', async () => {
    const env = envFor();
    const cases = [
      [['tenant', 'create', '--slug', 'admin', '--name', 'X'], 1, /reserved/],
      [['tenant', 'create', '--slug', 'Bad_Slug', '--name', 'X'], 1, /slug/],
      [['tenant', 'create', '--name', 'X'], 2, /missing --slug/],
      [['tenant', 'frobnicate'], 2, /unknown command/],
      [['tenant', 'list', '--bogus'], 2, /bogus/],
      [['scim-token', 'create', '--tenant', 'nobody'], 1, /No tenant with slug "nobody"/],
    ] as const;
    for (const [argv, code, message] of cases) {
      const r = await cli(env, ...argv);
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.out).toEqual([]);
      expect(r.err.join('\n')).toMatch(message);
      expect(r.err.join('\n')).not.toMatch(/\n\s+at /);
    }
    await cli(env, 'tenant', 'create', '--slug', 'dupe', '--name', 'X');
    const dupe = await cli(env, 'tenant', 'create', '--slug', 'dupe', '--name', 'X');
    expect(dupe.code).toBe(1);
    expect(dupe.err[0]).toMatch(/already exists/);
  });
}

// A cold embedded database (migrations in process) takes tens of seconds on a machine loaded by the rest of the suite.
describe('CLI, embedded database, no server running', { timeout: 180_000 }, () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-cli-'));
  });
  commandScenario(() => ({ DATA_DIR: dataDir, MASTER_KEY: masterKey }));
});

const masterKey = testMasterKey();

describe('CLI, embedded database, server running (commands go through the loopback admin endpoint)', { timeout: 180_000 }, () => {
  let dataDir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-cli-srv-'));
    const port = await freePort();
    const config = loadConfig({ DATA_DIR: dataDir, MASTER_KEY: masterKey, PORT: String(port), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    server = await startServer(await createServices(config), { port, host: '127.0.0.1' });
  });
  afterAll(() => server?.close(1000));

  commandScenario(() => ({ DATA_DIR: dataDir, MASTER_KEY: masterKey }), true);

  it('refuses admin requests without the secret from DATA_DIR', async () => {
    const { url } = JSON.parse((await import('node:fs')).readFileSync(adminFiles(dataDir).endpoint, 'utf8')) as { url: string };
    expect(new URL(url).hostname).toBe('127.0.0.1');
    const res = await fetch(`${url}/cli`, { method: 'POST', headers: { 'x-admin-secret': 'guess' }, body: '{"command":"tenant list"}' });
    expect(res.status).toBe(401);
  });

  it('sees what the server sees: a tenant created by the CLI resolves over HTTP', async () => {
    await cli({ DATA_DIR: dataDir, MASTER_KEY: masterKey }, 'tenant', 'create', '--slug', 'initech', '--name', 'Initech');
    expect((await fetch(`${server.url}/t/initech/nothing-here`)).status).toBe(404);
    const res = await fetch(`${server.url}/t/initech/api/me`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(res.status).toBe(400); // the tenant resolved (an unknown one would be 404 before the body is read)
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('CLI, PostgreSQL', () => {
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const db = await openTestDatabase('postgres');
    url = db.url!;
    close = db.close;
  });
  afterAll(() => close?.());
  commandScenario(() => ({ DATABASE_URL: url, MASTER_KEY: masterKey, DATA_DIR: os.tmpdir() }));
});

describe('restart keeps data', () => {
  const start = async (env: Record<string, string>) => {
    const port = await freePort();
    const config = loadConfig({ MASTER_KEY: masterKey, PORT: String(port), LOG_LEVEL: 'silent', ...env });
    return startServer(await createServices(config), { port, host: '127.0.0.1', adminEndpoint: false });
  };

  it('embedded: a tenant created before a restart is still listed after it', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-restart-'));
    const env = { DATA_DIR: dataDir };
    let server = await start(env);
    await server.close(1000);
    expect((await cli({ ...env, MASTER_KEY: masterKey }, 'tenant', 'create', '--slug', 'persist', '--name', 'P')).code).toBe(0);
    server = await start(env);
    await server.close(1000);
    const listed = await cli({ ...env, MASTER_KEY: masterKey }, 'tenant', 'list');
    expect(listed.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['persist']);
  });

  it('scim-token create prints the PUBLIC_URL the server recorded, not the CLI\'s own (embedded, server stopped)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-served-'));
    const server = await start({ DATA_DIR: dataDir, PUBLIC_URL: 'https://bridge.example.com' });
    await server.close(1000);
    const env = { DATA_DIR: dataDir, MASTER_KEY: masterKey };
    expect((await cli(env, 'tenant', 'create', '--slug', 'served', '--name', 'S')).code).toBe(0);
    const created = await cli({ ...env, PUBLIC_URL: 'http://localhost:9999' }, 'scim-token', 'create', '--tenant', 'served');
    expect(created.json.baseUrl).toBe('https://bridge.example.com/t/served/scim/v2');
  });

  it.runIf(process.env.TEST_DATABASE_URL)('PostgreSQL: scim-token create prints the running server\'s PUBLIC_URL', async () => {
    const db = await openTestDatabase('postgres');
    const env = { DATABASE_URL: db.url!, DATA_DIR: os.tmpdir() };
    try {
      const server = await start({ ...env, PUBLIC_URL: 'https://bridge-pg.example.com' });
      expect((await cli({ ...env, MASTER_KEY: masterKey }, 'tenant', 'create', '--slug', 'served-pg', '--name', 'P')).code).toBe(0);
      const created = await cli({ ...env, MASTER_KEY: masterKey, PUBLIC_URL: 'http://cli.local' }, 'scim-token', 'create', '--tenant', 'served-pg');
      await server.close(1000);
      expect(created.json.baseUrl).toBe('https://bridge-pg.example.com/t/served-pg/scim/v2');
    } finally {
      await db.close();
    }
  });

  it.runIf(process.env.TEST_DATABASE_URL)('PostgreSQL: a tenant created before a restart is still listed after it', async () => {
    const db = await openTestDatabase('postgres');
    const env = { DATABASE_URL: db.url!, DATA_DIR: os.tmpdir() };
    try {
      const server = await start(env);
      expect((await cli({ ...env, MASTER_KEY: masterKey }, 'tenant', 'create', '--slug', 'persist-pg', '--name', 'P')).code).toBe(0);
      await server.close(1000);
      const again = await start(env);
      const listed = await cli({ ...env, MASTER_KEY: masterKey }, 'tenant', 'list');
      await again.close(1000);
      expect(listed.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['persist-pg']);
    } finally {
      await db.close();
    }
  });
});

describe('secret options', () => {
  const command: Command = {
    name: 'demo',
    summary: 'demo',
    forwardable: true,
    options: { secret: { type: 'string', required: true, secret: true, description: 'a secret' } },
    run: async () => ({}),
  };

  it('accept a flag, a file, or standard input — and not two at once', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sso-secret-')), 's.txt');
    writeFileSync(file, 'from-file\n');
    const stdin = async () => 'from-stdin\n';
    expect(await parseCommandArgs(command, ['--secret', 'flag'], stdin)).toEqual({ secret: 'flag' });
    expect(await parseCommandArgs(command, ['--secret-file', file], stdin)).toEqual({ secret: 'from-file' });
    expect(await parseCommandArgs(command, ['--secret-file', '-'], stdin)).toEqual({ secret: 'from-stdin' });
    await expect(parseCommandArgs(command, ['--secret', 'a', '--secret-file', file], stdin)).rejects.toThrow(/not both/);
    await expect(parseCommandArgs(command, [], stdin)).rejects.toThrow(/--secret-file/);
  });

  it('take a declared positional argument as the bare word after the command', async () => {
    const show: Command = { ...command, options: { id: { type: 'string', required: true, positional: true, description: 'id' } } };
    const stdin = async () => '';
    expect(await parseCommandArgs(show, ['trc_1'], stdin)).toEqual({ id: 'trc_1' });
    expect(await parseCommandArgs(show, ['--id', 'trc_2'], stdin)).toEqual({ id: 'trc_2' });
    await expect(parseCommandArgs(show, ['a', 'b'], stdin)).rejects.toThrow(/unexpected arguments/);
    await expect(parseCommandArgs(command, ['stray'], stdin)).rejects.toThrow();
  });
});

describe('help', () => {
  const help = async (...argv: string[]) => {
    const out: string[] = [];
    const code = await runCli(['help', ...argv], { stdout: (l) => out.push(l), stderr: () => {}, stdin: async () => '', env: {} });
    return { code, text: out.join('\n') };
  };

  it('lists every command with the values of on/off options, and `help <command>` describes each option', async () => {
    const all = await help();
    expect(all.code).toBe(0);
    expect(all.text).toContain('idp update --tenant TENANT --id ID');
    expect(all.text).toContain('[--idp-initiated on|off]');
    expect(all.text).toContain('user bind --tenant TENANT --email EMAIL --connection CONNECTION');
    const one = await help('idp', 'update');
    expect(one.code).toBe(0);
    expect(one.text).toMatch(/^usage: sso-bridge idp update --tenant TENANT/);
    expect(one.text).toMatch(/--idp-initiated on\|off\n\s+SAML: on or off \(off for new connections\)/);
    expect(one.text).toMatch(/--tenant TENANT\n\s+tenant slug \(required\)/);
    expect(one.text).not.toContain('tenant create');
    // A secret option says how to keep it off the command line.
    expect((await help('idp', 'add-oidc')).text).toMatch(/--client-secret CLIENT-SECRET\n.*or --client-secret-file PATH/);
    // An unknown command after help: the whole list.
    expect((await help('no', 'such')).text).toContain('commands:');
  });
});
