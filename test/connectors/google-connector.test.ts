import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, type FakeVerifier } from '../mcp/support.js';
import { allGoogleScopes, DIRECTORY_SYNC_SCOPES, GOOGLE_TOOL_SCOPES, KEY_CHECK_SCOPE } from '../../src/connectors/google/google-scopes.js';
import type { GoogleFake } from './support/google-fake.js';
import { useGoogleApp } from './support/google-env.js';

describe.each(testDbKinds)('Google connector: add, list, test, remove (%s)', (kind) => {
  let app: TestApp;
  let google: GoogleFake;
  useGoogleApp(kind, (a, _v: FakeVerifier, g) => {
    app = a;
    google = g;
  });

  it('add-google checks the key with a real JWT-bearer request at token_uri, keeps it in the vault only, creates the tools unapproved and prints the DWD scopes', async () => {
    const t = await app.createTenant();
    const sa = google.serviceAccount('add');
    google.users.add('admin@acme.com');
    const before = google.tokenRequests.length;
    const out = await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'Admin@Acme.com', domain: ['acme.com', 'ACME.co.uk'], 'customer-id': 'C01abc23d', 'api-root': google.url });
    // The fake verified the assertion's signature, iss, aud and sub before answering unauthorized_client (nothing delegated yet).
    expect(google.tokenRequests.slice(before)).toEqual([{ sub: 'admin@acme.com', scope: KEY_CHECK_SCOPE, iss: sa.clientEmail }]);
    expect(out).toMatchObject({ kind: 'google', clientId: sa.clientId, domains: ['acme.com', 'acme.co.uk'], keyCheck: { delegation: 'not_granted' } });
    // Exactly the union of the tools' scopes, each once; directory sync's extra scopes listed apart.
    const dwd = out.dwd as { clientId: string; scopes: string; directorySyncScopes: string };
    const toolUnion: string[] = [...new Set<string>(Object.values(GOOGLE_TOOL_SCOPES).flat())].sort();
    expect(dwd.scopes.split(',')).toEqual(toolUnion);
    expect(dwd.scopes).not.toMatch(/\s/);
    expect(dwd.directorySyncScopes.split(',')).toEqual(DIRECTORY_SYNC_SCOPES.filter((x) => !toolUnion.includes(x)).sort());
    expect([...dwd.scopes.split(','), ...dwd.directorySyncScopes.split(',')].sort()).toEqual(allGoogleScopes());
    expect(dwd.clientId).toBe(sa.clientId);
    expect(JSON.stringify(out)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(out)).not.toContain(sa.keyId);

    const row = await t.db.connector.findFirst({ where: { id: String(out.id) } });
    expect(JSON.stringify(row?.config)).not.toContain('PRIVATE KEY');
    expect(row?.config).toMatchObject({ customerId: 'C01abc23d', apiRoot: `${google.url}/`, domains: ['acme.com', 'acme.co.uk'], adminEmail: 'admin@acme.com' });
    const secret = await t.db.vaultSecret.findFirst({ where: { id: row!.secretId! } });
    expect(Buffer.from(secret!.ciphertext).toString('latin1')).not.toContain('PRIVATE KEY');
    expect(JSON.parse(await app.services.vault.getString(t, row!.secretId!))).toMatchObject({ client_email: sa.clientEmail });

    const tools = (await cli(app, 'tool list', { tenant: t.slug })).tools as { name: string; access: string }[];
    const google_ = tools.filter((x) => x.name.startsWith('google__'));
    expect(google_.map((x) => x.name).sort()).toEqual(Object.keys(GOOGLE_TOOL_SCOPES).filter((n) => (out.tools as string[]).includes(n)).sort());
    expect(google_.every((x) => x.access === 'nobody')).toBe(true);

    const listed = await cli(app, 'connector list', { tenant: t.slug });
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(listed.connectors).toMatchObject([{ id: out.id, kind: 'google', hasCredentials: true, approvedTools: 0 }]);
    const audit = await t.db.auditEvent.findFirst({ where: { action: 'connector.add' } });
    expect(audit?.targetId).toBe(out.id);
  });

  it('refuses keys Google refuses, malformed keys and bad options, storing nothing', async () => {
    const t = await app.createTenant();
    const sa = google.serviceAccount('bad');
    const other = google.serviceAccount('other');
    google.users.add('admin@acme.com');
    // A key whose private key is another account's: the signature does not verify with the account's public key.
    const forged = JSON.stringify({ ...JSON.parse(sa.keyFile), private_key: JSON.parse(other.keyFile).private_key });
    const base = { tenant: t.slug, 'admin-email': 'admin@acme.com', 'api-root': google.url };
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': forged })).rejects.toThrow(/invalid_grant/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': '{not json' })).rejects.toThrow(/not JSON/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': JSON.stringify({ type: 'authorized_user', client_id: 'x' }) })).rejects.toThrow(/not a service account key/);
    // An EC key reads as PEM, but Google's assertions are RS256: refused up front, not as an internal error.
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': JSON.stringify({ ...JSON.parse(sa.keyFile), private_key: ec }) })).rejects.toThrow(/not an RSA key/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': sa.keyFile, 'customer-id': "C01' or 1=1" })).rejects.toThrow(/customer-id/);
    const noPem = JSON.stringify({ ...JSON.parse(sa.keyFile), private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' });
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': noPem })).rejects.toThrow(/not a readable PEM/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': sa.keyFile, 'admin-email': 'not-an-email' })).rejects.toThrow(/admin-email/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': sa.keyFile, domain: ['acme.com\r\nx'] })).rejects.toThrow(/not a domain/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': sa.keyFile, 'api-root': 'file:///etc/passwd' })).rejects.toThrow(/api-root/);
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': sa.keyFile, 'api-root': 'http://u:p@h/' })).rejects.toThrow(/api-root/);
    // The token endpoint is unreachable: nothing stored either.
    const dead = JSON.stringify({ ...JSON.parse(sa.keyFile), token_uri: 'http://127.0.0.1:1/token' });
    await expect(cli(app, 'connector add-google', { ...base, 'service-account': dead })).rejects.toThrow(/unreachable/);
    expect(await t.db.connector.count()).toBe(0);
    expect(await t.db.vaultSecret.count()).toBe(0);
    expect(await t.db.tool.count({ where: { kind: 'connector' } })).toBe(0);
  });

  it('connector test reports per scope whether delegation is granted, and which tools work', async () => {
    const t = await app.createTenant();
    const sa = google.serviceAccount('tst');
    google.users.add('admin@acme.com');
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    google.delegate(sa.clientId, [...GOOGLE_TOOL_SCOPES.google__gmail_search]);
    const report = await cli(app, 'connector test', { tenant: t.slug });
    const scopes = report.scopes as Record<string, string>;
    expect(Object.keys(scopes).sort()).toEqual(allGoogleScopes());
    expect(scopes['https://www.googleapis.com/auth/gmail.readonly']).toBe('granted');
    expect(scopes['https://www.googleapis.com/auth/gmail.compose']).toBe('not_granted');
    expect(report).toMatchObject({ ok: false, directorySync: false, tools: { google__gmail_search: true, google__gmail_read: true, google__gmail_send_draft: false } });

    google.delegate(sa.clientId, allGoogleScopes());
    expect(await cli(app, 'connector test', { tenant: t.slug })).toMatchObject({ ok: true, directorySync: true });
  });

  it('one Google connector per tenant; remove deletes its tools, grants and key; another tenant cannot see or remove it', async () => {
    const t = await app.createTenant();
    const other = await app.createTenant();
    const sa = google.serviceAccount('rm');
    google.users.add('admin@acme.com');
    const args = { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url };
    const added = await cli(app, 'connector add-google', args);
    await expect(cli(app, 'connector add-google', args)).rejects.toThrow(/already has a google connector/);
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'google__gmail_search' });

    expect(await cli(app, 'connector list', { tenant: other.slug })).toEqual({ connectors: [] });
    await expect(cli(app, 'connector remove', { tenant: other.slug, id: String(added.id) })).rejects.toThrow(/No connector/);
    await expect(cli(app, 'connector test', { tenant: other.slug, id: String(added.id) })).rejects.toThrow(/No connector/);

    expect(await cli(app, 'connector remove', { tenant: t.slug, id: String(added.id) })).toMatchObject({ id: added.id, removed: true });
    expect(await t.db.connector.count()).toBe(0);
    expect(await t.db.tool.count({ where: { kind: 'connector' } })).toBe(0);
    expect(await t.db.vaultSecret.count()).toBe(0);
    // An upstream may not take a connector's name (its tools would shadow the connector's).
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'google', url: google.url })).rejects.toThrow(/reserved/);
  });
});
