import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { testMasterKey } from '../support/test-app.js';
import { makeSamlIdp } from './support/saml-idp.js';

/** The real CLI entry point (`npm run cli -- …`) over an embedded database of its own. */
describe('SSO CLI commands through runCli', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sso-cli-'));
  const env = { DATA_DIR: dir, MASTER_KEY: testMasterKey(), LOG_LEVEL: 'silent', NODE_ENV: 'test' };
  async function run(argv: string[], stdin = '') {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l), stdin: async () => stdin, env });
    return { code, json: out.length ? (JSON.parse(out.join('\n')) as Record<string, unknown>) : null, stderr: err.join('\n') };
  }

  it('adds, lists and refuses as documented, printing one JSON object', { timeout: 120_000 }, async () => {
    expect((await run(['tenant', 'create', '--slug', 'cli-corp', '--name', 'CLI Corp'])).code).toBe(0);
    const file = path.join(dir, 'idp.xml');
    const idp = makeSamlIdp();
    writeFileSync(file, idp.metadata());
    const saml = await run(['idp', 'add-saml', '--tenant', 'cli-corp', '--metadata-file', file, '--name', 'Okta', '--allowed-domain', 'Corp.example', '--no-jit']);
    expect(saml).toMatchObject({ code: 0, json: { kind: 'saml', name: 'Okta', issuer: idp.entityId, allowedDomains: ['corp.example'], jitEnabled: false } });
    const oidc = await run(['idp', 'add-oidc', '--tenant', 'cli-corp', '--issuer', 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0/', '--client-id', 'app-1', '--client-secret-file', '-', '--shared-callback'], 's3cret-value\n');
    expect(oidc.code).toBe(0);
    expect(oidc.json).toMatchObject({ kind: 'oidc', issuer: 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0', callback: 'shared', requiredClaims: { tid: '11111111-2222-3333-4444-555555555555' }, hasSecret: true });
    expect(JSON.stringify(oidc.json)).not.toContain('s3cret');
    const list = await run(['idp', 'list', '--tenant', 'cli-corp']);
    expect((list.json!.connections as unknown[]).length).toBe(2);
    expect(await run(['idp', 'add-saml', '--tenant', 'cli-corp'])).toMatchObject({ code: 1, stderr: expect.stringContaining('exactly one of --metadata-url or --metadata-file') });
    expect(await run(['admin', 'grant', '--tenant', 'cli-corp', '--email', 'nobody@corp.example'])).toMatchObject({ code: 1, stderr: expect.stringContaining('No user') });
    expect(await run(['sso-trace', 'show', '--id', 'trc_unknown'])).toMatchObject({ code: 1, stderr: expect.stringContaining('No SSO trace') });
    // The contract's form: the id as a bare word.
    expect(await run(['sso-trace', 'show', 'trc_unknown'])).toMatchObject({ code: 1, stderr: expect.stringContaining('No SSO trace trc_unknown') });
    expect(await run(['idp', 'remove', '--tenant', 'cli-corp', '--id', String(saml.json!.id)])).toMatchObject({ code: 0, json: { removed: true } });
  });
});
