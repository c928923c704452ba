import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/config.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { createServices } from '../../src/services.js';
import { freePort, testMasterKey } from '../support/test-app.js';

const masterKey = testMasterKey();

async function cli(env: Record<string, string>, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), stdin: async () => '', env: { LOG_LEVEL: 'silent', MASTER_KEY: masterKey, ...env } });
  return { code, out, err };
}

/** `audit export|verify|prune` print what they should, in either place the CLI runs a command. */
function auditScenario(envFor: () => Record<string, string>) {
  it('exports (JSON Lines, CSV, filtered), verifies and prunes, one tenant at a time', async () => {
    const env = envFor();
    for (const slug of ['audit-one', 'audit-two']) expect((await cli(env, 'tenant', 'create', '--slug', slug, '--name', slug)).code).toBe(0);
    for (let i = 0; i < 3; i++) expect((await cli(env, 'scim-token', 'create', '--tenant', 'audit-one', '--label', `L${i}`)).code).toBe(0);
    await cli(env, 'scim-token', 'create', '--tenant', 'audit-two');

    const jsonl = await cli(env, 'audit', 'export', '--tenant', 'audit-one');
    expect(jsonl.code).toBe(0);
    const rows = jsonl.out.map((l) => JSON.parse(l) as { seq: number; action: string });
    expect(rows.map((r) => [r.seq, r.action])).toEqual([1, 2, 3].map((n) => [n, 'scim-token.create']));

    const csv = await cli(env, 'audit', 'export', '--tenant', 'audit-one', '--format', 'csv', '--type', 'scim-token.*', '--since', '2000-01-01');
    expect(csv.out[0]).toMatch(/^seq,id,createdAt,/);
    expect(csv.out).toHaveLength(4);
    expect((await cli(env, 'audit', 'export', '--tenant', 'audit-one', '--type', 'tenant.create')).out).toEqual([]);
    expect((await cli(env, 'audit', 'export', '--tenant', 'audit-one', '--until', '2000-01-01')).out).toEqual([]);

    const verified = await cli(env, 'audit', 'verify', '--tenant', 'audit-one');
    expect(verified.out).toHaveLength(1);
    expect(JSON.parse(verified.out[0]!)).toMatchObject({ tenant: 'audit-one', ok: true, rows: 3, lastSeq: 3, problems: [] });

    const pruned = await cli(env, 'audit', 'prune', '--tenant', 'audit-one', '--before', new Date().toISOString());
    expect(JSON.parse(pruned.out[0]!)).toMatchObject({ tenant: 'audit-one', deleted: 3, prunedThroughSeq: 3 });
    const after = (await cli(env, 'audit', 'export', '--tenant', 'audit-one')).out.map((l) => JSON.parse(l) as { seq: number; action: string });
    expect(after.map((r) => [r.seq, r.action])).toEqual([[4, 'audit.prune']]);
    expect(JSON.parse((await cli(env, 'audit', 'verify', '--tenant', 'audit-one')).out[0]!)).toMatchObject({ ok: true, prunedThroughSeq: 3 });

    const sink = JSON.parse((await cli(env, 'audit', 'sink', 'add', '--tenant', 'audit-one', '--url', 'https://siem.example.com/in')).out[0]!) as { id: string; secret: string };
    expect(sink.secret.length).toBeGreaterThanOrEqual(43);
    const listed = JSON.parse((await cli(env, 'audit', 'sink', 'list', '--tenant', 'audit-one')).out[0]!) as { sinks: object[] };
    expect(listed.sinks).toEqual([expect.objectContaining({ id: sink.id, status: 'active', url: 'https://siem.example.com/in', failures: 0 })]);
    expect(JSON.stringify(listed)).not.toContain(sink.secret);
    expect(JSON.parse((await cli(env, 'audit', 'sink', 'retry', '--tenant', 'audit-one', '--id', sink.id)).out[0]!)).toMatchObject({ status: 'active' });
    expect((await cli(env, 'audit', 'sink', 'remove', '--tenant', 'audit-two', '--id', sink.id)).code).toBe(1);
    expect(JSON.parse((await cli(env, 'audit', 'sink', 'remove', '--tenant', 'audit-one', '--id', sink.id)).out[0]!)).toEqual({ id: sink.id, removed: true });
    const syslog = JSON.parse((await cli(env, 'audit', 'sink', 'add', '--tenant', 'audit-one', '--url', 'syslog+tls://siem.example.com:6514')).out[0]!) as Record<string, unknown>;
    expect(syslog).toMatchObject({ kind: 'syslog', url: 'syslog+tls://siem.example.com:6514', status: 'active' });
    expect(syslog.secret).toBeUndefined();
    expect((await cli(env, 'audit', 'sink', 'add', '--tenant', 'audit-one', '--url', 'syslog://siem.example.com:514')).code).toBe(1);

    // The other tenant is untouched by all of it.
    expect((await cli(env, 'audit', 'export', '--tenant', 'audit-two')).out).toHaveLength(1);
  });

  it('refuses bad options on stderr with nothing on stdout', async () => {
    const env = envFor();
    await cli(env, 'tenant', 'create', '--slug', 'audit-bad', '--name', 'B');
    for (const argv of [
      ['audit', 'export', '--tenant', 'audit-bad', '--format', 'xml'],
      ['audit', 'export', '--tenant', 'audit-bad', '--since', 'last tuesday'],
      ['audit', 'export', '--tenant', 'nobody'],
      ['audit', 'prune', '--tenant', 'audit-bad', '--before', '2999-01-01'],
      ['audit', 'verify', '--tenant', 'nobody'],
    ]) {
      const r = await cli(env, ...argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.out).toEqual([]);
      expect(r.err[0]).toMatch(/^error: /);
    }
  });
}

describe('audit CLI, embedded database, no server running', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-audit-cli-'));
  // Each command opens the embedded database itself here (seconds each): the short version of the scenario.
  it('exports and verifies', async () => {
    const env = { DATA_DIR: dataDir };
    await cli(env, 'tenant', 'create', '--slug', 'audit-solo', '--name', 'S');
    await cli(env, 'scim-token', 'create', '--tenant', 'audit-solo');
    const rows = (await cli(env, 'audit', 'export', '--tenant', 'audit-solo', '--format', 'csv')).out;
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^1,evt_.*,scim-token\.create,/);
    expect(JSON.parse((await cli(env, 'audit', 'verify', '--tenant', 'audit-solo')).out[0]!)).toMatchObject({ ok: true, rows: 1 });
  }, 300_000); // four CLI processes, each opening the embedded database: slow on a loaded machine
});

describe('audit CLI, embedded database, server running (streamed through the admin endpoint)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-audit-srv-'));
  let server: RunningServer;
  beforeAll(async () => {
    const port = await freePort();
    const config = loadConfig({ DATA_DIR: dataDir, MASTER_KEY: masterKey, PORT: String(port), LOG_LEVEL: 'silent' });
    server = await startServer(await createServices(config), { port, host: '127.0.0.1' });
  }, 120_000);
  afterAll(() => server?.close(1000));
  auditScenario(() => ({ DATA_DIR: dataDir }));
});
