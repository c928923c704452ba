import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli } from '../mcp/support.js';
import { loadConfig } from '../../src/config/config.js';
import type { OktaFake } from './support/okta-fake.js';
import { useOktaApp } from './support/okta-env.js';

describe.each(testDbKinds)('Okta connector: add-okta, list, test, remove (%s)', (kind) => {
  let app: TestApp;
  let okta: OktaFake;
  useOktaApp(kind, (a, o) => {
    app = a;
    okta = o;
  });

  it('private-key mode: a real client-credentials token request with a private-key JWT the fake verifies, the key in the vault only', async () => {
    const t = await app.createTenant();
    const sa = okta.serviceApp();
    const appId = okta.addApp('SSO Bridge (acme)');
    const before = okta.tokenRequests.length;
    const out = await cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'client-id': sa.clientId, 'private-key': sa.privatePem, 'key-id': sa.keyId, 'app-id': appId });
    // The fake verified the assertion's RS256 signature with the registered public key, iss = sub = client id, aud = the token URL.
    expect(okta.tokenRequests.slice(before)).toEqual([{ clientId: sa.clientId, kid: sa.keyId, aud: `${okta.url}/oauth2/v1/token`, scope: 'okta.users.read okta.groups.read okta.apps.read' }]);
    expect(out).toMatchObject({ kind: 'okta', orgUrl: okta.url, auth: 'private_key', clientId: sa.clientId, app: { id: appId, label: 'SSO Bridge (acme)' } });
    expect(out.checks).toEqual({ 'okta.apps.read': 'ok', 'okta.users.read': 'ok', 'okta.groups.read': 'ok' });

    const row = await t.db.connector.findFirst({ where: { id: String(out.id) } });
    expect(row?.config).toMatchObject({ orgUrl: okta.url, auth: 'private_key', clientId: sa.clientId, keyId: sa.keyId, appId });
    expect(JSON.stringify(row?.config)).not.toContain('PRIVATE KEY');
    const secret = await t.db.vaultSecret.findFirst({ where: { id: row!.secretId! } });
    expect(Buffer.from(secret!.ciphertext).toString('latin1')).not.toContain('PRIVATE KEY');
    const listed = await cli(app, 'connector list', { tenant: t.slug });
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(listed.connectors).toMatchObject([{ id: out.id, kind: 'okta', hasCredentials: true }]);
    expect((await t.db.auditEvent.findFirst({ where: { action: 'connector.add' } }))?.targetId).toBe(out.id);

    const report = await cli(app, 'connector test', { tenant: t.slug });
    expect(report).toMatchObject({ ok: true, credential: 'accepted', checks: { 'okta.apps.read': 'ok', 'okta.users.read': 'ok', 'okta.groups.read': 'ok' } });
    await expect(cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'api-token': okta.apiToken(), 'app-id': appId })).rejects.toThrow(/already has a okta connector/);
    expect(await cli(app, 'connector remove', { tenant: t.slug })).toMatchObject({ kind: 'okta', removed: true });
    expect(await t.db.vaultSecret.count()).toBe(0);
  });

  it('private-key mode with the key given as a private JWK (as Okta\'s console generates it), no kid', async () => {
    const t = await app.createTenant();
    const sa = okta.serviceApp();
    const appId = okta.addApp();
    const out = await cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': `${okta.url}/`, 'client-id': sa.clientId, 'private-key': sa.privateJwk, 'app-id': appId });
    expect(out).toMatchObject({ auth: 'private_key', orgUrl: okta.url });
    expect(okta.tokenRequests.at(-1)).toMatchObject({ clientId: sa.clientId, kid: undefined });
  });

  it('API-token mode: SSWS on every request; the app id is found from the tenant\'s SAML connection on the org', async () => {
    const t = await app.createTenant();
    const token = okta.apiToken();
    const appId = okta.addApp();
    await t.db.idpConnection.create({
      data: {
        id: `idp_${t.slug}`, tenantId: t.id, name: 'Okta', kind: 'saml', issuer: `http://www.okta.com/exk${t.slug}`,
        config: { saml: { metadataUrl: `${okta.url}/app/${appId}/sso/saml/metadata`, ssoUrl: `${okta.url}/app/acme_ssobridge_1/${appId}/sso/saml`, signingCerts: ['MIIB'] } },
      },
    });
    const seen = okta.requests.length;
    const out = await cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'api-token': `${token}\n` });
    expect(out).toMatchObject({ auth: 'api_token', app: { id: appId } });
    expect(okta.requests.slice(seen).every((r) => r.auth === 'ssws')).toBe(true);
    expect(okta.requests.slice(seen).map((r) => r.path.split('?')[0])).toEqual([`/api/v1/apps/${appId}`, '/api/v1/users', '/api/v1/groups']);
    const row = await t.db.connector.findFirst({ where: { kind: 'okta' } });
    expect(JSON.parse(await app.services.vault.getString(t, row!.secretId!))).toEqual({ apiToken: token });
    expect(JSON.stringify(await cli(app, 'connector list', { tenant: t.slug }))).not.toContain(token);
  });

  it('refuses credentials Okta refuses, missing scopes, unknown apps, bad keys and hostile org URLs, storing nothing', async () => {
    const t = await app.createTenant();
    const appId = okta.addApp();
    const sa = okta.serviceApp();
    const other = okta.serviceApp();
    const base = { tenant: t.slug, 'org-url': okta.url, 'app-id': appId };
    // Another app's private key: the signature does not verify with this client's public key.
    await expect(cli(app, 'connector add-okta', { ...base, 'client-id': sa.clientId, 'private-key': other.privatePem })).rejects.toThrow(/invalid_client/);
    // A service app not granted okta.groups.read: the token request is refused with invalid_scope.
    const narrow = okta.serviceApp(['okta.users.read', 'okta.apps.read']);
    await expect(cli(app, 'connector add-okta', { ...base, 'client-id': narrow.clientId, 'private-key': narrow.privatePem })).rejects.toThrow(/invalid_scope/);
    await expect(cli(app, 'connector add-okta', { ...base, 'api-token': 'x'.repeat(40) })).rejects.toThrow(/E0000011: Invalid token provided/);
    await expect(cli(app, 'connector add-okta', { ...base, 'api-token': okta.apiToken(), 'app-id': '0oaNOSUCHAPP' })).rejects.toThrow(/okta.apps.read: E0000007/);
    // No app id and no SSO connection on the org to find it from.
    await expect(cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'api-token': okta.apiToken() })).rejects.toThrow(/--app-id/);
    // Keys that are not private keys, or too weak.
    const { publicKey } = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const weak = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ec = okta.serviceApp(undefined, 'ec').privatePem;
    for (const key of [pub, weak, ec, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', '{"kty":"oct","k":"c2VjcmV0"}', 'garbage']) {
      await expect(cli(app, 'connector add-okta', { ...base, 'client-id': sa.clientId, 'private-key': key })).rejects.toThrow(/private-key-file/);
    }
    // Both modes, or neither.
    await expect(cli(app, 'connector add-okta', { ...base, 'api-token': okta.apiToken(), 'client-id': sa.clientId, 'private-key': sa.privatePem })).rejects.toThrow(/not both/);
    await expect(cli(app, 'connector add-okta', { ...base, 'client-id': sa.clientId })).rejects.toThrow(/--private-key-file/);
    // Org URLs: http (the token would travel in clear), credentials, a path/query/fragment, other schemes, garbage.
    const good = { 'api-token': okta.apiToken() };
    for (const [orgUrl, why] of [
      [okta.url.replace('https:', 'http:'), /https/],
      [okta.url.replace('https://', 'https://admin:pw@'), /credentials/],
      [`${okta.url}/api/v1`, /origin only/],
      [`${okta.url}/?x=1`, /origin only/],
      [`${okta.url}#frag`, /origin only/],
      ['file:///etc/passwd', /https/],
      ['javascript:alert(1)', /https/],
      ['not a url', /absolute https URL/],
    ] as const) {
      await expect(cli(app, 'connector add-okta', { ...base, ...good, 'org-url': orgUrl }), orgUrl).rejects.toThrow(why);
    }
    // A special-use address that is not the allow-listed fake (cloud metadata, loopback on another port): never contacted.
    await expect(cli(app, 'connector add-okta', { ...base, ...good, 'org-url': 'https://169.254.169.254' })).rejects.toThrow(/special-use/);
    await expect(cli(app, 'connector add-okta', { ...base, ...good, 'org-url': 'https://127.0.0.1:1' })).rejects.toThrow(/special-use/);
    await expect(cli(app, 'connector add-okta', { ...base, ...good, 'org-url': 'https://localhost:1' })).rejects.toThrow(/special-use/);
    expect(await t.db.connector.count()).toBe(0);
    expect(await t.db.vaultSecret.count()).toBe(0);
  });

  it('the org must present a certificate the app trusts: the same fake is refused without the test CA', async () => {
    const { startTestApp } = await import('../support/test-app.js');
    const bare = await startTestApp(kind, { DANGEROUSLY_ALLOW_CONNECTOR_HOSTS: okta.host });
    try {
      const t = await bare.createTenant();
      await expect(cli(bare, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'api-token': okta.apiToken(), 'app-id': okta.addApp() })).rejects.toThrow(/unreachable/);
      expect(await t.db.connector.count()).toBe(0);
    } finally {
      await bare.close();
    }
  }, 60_000);

  it('connector test reports a revoked credential and a withdrawn scope without throwing', async () => {
    const t = await app.createTenant();
    const token = okta.apiToken();
    await cli(app, 'connector add-okta', { tenant: t.slug, 'org-url': okta.url, 'api-token': token, 'app-id': okta.addApp() });
    okta.fail(/^\/api\/v1\/groups/, 403, { errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action', errorCauses: [] });
    expect(await cli(app, 'connector test', { tenant: t.slug })).toMatchObject({
      ok: false, credential: 'accepted', checks: { 'okta.apps.read': 'ok', 'okta.users.read': 'ok', 'okta.groups.read': 'denied' },
      errors: { 'okta.groups.read': 'E0000006: You do not have permission to perform the requested action' },
    });
    okta.apiTokens.delete(token);
    expect(await cli(app, 'connector test', { tenant: t.slug })).toMatchObject({ ok: false, credential: 'refused', error: 'E0000011: Invalid token provided' });
    okta.fail(/^\/api\/v1\/apps/, 302, {}, 1, { location: 'https://elsewhere.example/' });
    expect(await cli(app, 'connector test', { tenant: t.slug })).toMatchObject({ ok: false, credential: 'unreachable', error: expect.stringMatching(/^E_REDIRECT/) });
  });

  it('the connector settings are test-only and refused in production', () => {
    for (const name of ['DANGEROUSLY_ALLOW_CONNECTOR_HOSTS', 'DANGEROUSLY_CONNECTOR_CA_FILE']) {
      expect(() => loadConfig({ NODE_ENV: 'production', MASTER_KEY: 'mk:x', PUBLIC_URL: 'https://sso.example', [name]: 'x' })).toThrow(new RegExp(name));
    }
  });
});
