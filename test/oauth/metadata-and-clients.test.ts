import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Options } from '../../src/cli/command-table.js';
import { oauthCommands } from '../../src/oauth/oauth-commands.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { mcpUrl, tokenRequest } from './support/oauth-client.js';

describe.each(testDbKinds)('metadata, registration and machine clients (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const run = (name: string, opts: Options) => oauthCommands.find((c) => c.name === name)!.run(app.services, opts) as Promise<Record<string, string>>;

  it('serves RFC 8414 path-inserted and OIDC metadata with the same issuer and the required fields', async () => {
    const t = await app.createTenant();
    const issuer = `${app.url}/t/${t.slug}`;
    const urls = [
      `${app.url}/.well-known/oauth-authorization-server/t/${t.slug}`,
      `${app.url}/t/${t.slug}/.well-known/openid-configuration`,
      `${app.url}/.well-known/openid-configuration/t/${t.slug}`,
    ];
    for (const url of urls) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const m = (await res.json()) as Record<string, unknown>;
      expect(m.issuer).toBe(issuer);
      expect(m.code_challenge_methods_supported).toEqual(['S256']);
      expect(m.grant_types_supported).toEqual(expect.arrayContaining([
        'authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code',
      ]));
      expect(m.client_id_metadata_document_supported).toBe(true);
      expect(m.authorization_response_iss_parameter_supported).toBe(true);
      expect(m.response_types_supported).toEqual(['code']);
      expect(m.authorization_endpoint).toBe(`${issuer}/oauth/authorize`);
      expect(m.token_endpoint).toBe(`${issuer}/oauth/token`);
      expect(m.registration_endpoint).toBe(`${issuer}/oauth/register`);
      expect(m.revocation_endpoint).toBe(`${issuer}/oauth/revoke`);
      expect(m.device_authorization_endpoint).toBe(`${issuer}/oauth/device_authorization`);
      expect(m.scopes_supported).toEqual(expect.arrayContaining(['mcp:tools']));
      expect(m.pushed_authorization_request_endpoint).toBeUndefined();
      expect(m.dpop_signing_alg_values_supported).toBeUndefined();
    }
    const jwks = (await (await fetch(`${issuer}/oauth/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect((await fetch(`${app.url}/.well-known/oauth-authorization-server/t/no-such-tenant`)).status).toBe(404);
  });

  it('turns dynamic client registration off with the tenant setting', async () => {
    const t = await app.createTenant();
    await app.services.db.tenant.update({ where: { id: t.id }, data: { settings: { dynamicClientRegistration: false } } });
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
    const m = (await (await fetch(`${app.url}/.well-known/oauth-authorization-server/t/${t.slug}`)).json()) as Record<string, unknown>;
    expect(m.registration_endpoint).toBeUndefined();
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://a.example/cb'] }),
    });
    expect(res.status).toBe(404);
  });

  it('limits dynamic registrations per client address', async () => {
    const t = await app.createTenant();
    const register = () => fetch(`${app.url}/t/${t.slug}/oauth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none' }),
    });
    for (let i = 0; i < 20; i++) expect((await register()).status).toBe(201);
    const limited = await register();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    app.clock.advance(10 * 60_000);
    expect((await register()).status).toBe(201);
    app.clock.set(new Date());
  });

  it('issues SCIM client-credentials tokens (1–6 h, SCIM audience) that SCIM accepts and MCP refuses', async () => {
    const t = await app.createTenant();
    const created = await run('client add', { tenant: t.slug, name: 'Entra provisioning', scim: true });
    expect(created.client_secret).toMatch(/^sbc_/);
    const scim = `${app.url}/t/${t.slug}/scim/v2`;
    const res = await tokenRequest(app, t, { grant_type: 'client_credentials', client_id: created.client_id!, client_secret: created.client_secret! });
    expect(res.status).toBe(200);
    expect(Number(res.body.expires_in)).toBeGreaterThanOrEqual(3600);
    expect(Number(res.body.expires_in)).toBeLessThanOrEqual(6 * 3600);
    expect(res.body.scope).toBe('scim');
    const info = await app.services.accessTokens.verify(t, res.body.access_token!, scim);
    expect(info).toMatchObject({ userId: null, clientId: created.client_id, scopes: ['scim'], audience: scim });
    expect(await app.services.accessTokens.verify(t, res.body.access_token!, mcpUrl(app, t))).toBeNull();

    const users = await fetch(`${scim}/Users`, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(users.status).toBe(200);
    const mcp = await fetch(mcpUrl(app, t), {
      method: 'POST',
      headers: { authorization: `Bearer ${res.body.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(mcp.status).toBe(401);

    const wrongResource = await tokenRequest(app, t, { grant_type: 'client_credentials', client_id: created.client_id!, client_secret: created.client_secret!, resource: mcpUrl(app, t) });
    expect(wrongResource.body.error).toBe('invalid_target');
    const badSecret = await tokenRequest(app, t, { grant_type: 'client_credentials', client_id: created.client_id!, client_secret: 'sbc_wrong' });
    expect(badSecret.body.error).toBe('invalid_client');

    // The secret is kept in the vault, not in the client row.
    const row = await t.db.oidcPayload.findFirst({ where: { model: 'Client', id: created.client_id! } });
    expect(JSON.stringify(row?.payload)).not.toContain(created.client_secret);

    await run('client remove', { tenant: t.slug, 'client-id': created.client_id! });
    expect(await app.services.accessTokens.verify(t, res.body.access_token!, scim)).toBeNull();
  });

  it('rotates signing keys: new tokens use the new key, earlier tokens still verify', async () => {
    const t = await app.createTenant();
    const created = await run('client add', { tenant: t.slug, name: 'Entra', scim: true });
    const scim = `${app.url}/t/${t.slug}/scim/v2`;
    const form = { grant_type: 'client_credentials', client_id: created.client_id!, client_secret: created.client_secret! };
    const before = await tokenRequest(app, t, form);
    const rotated = (await run('oauth rotate-keys', { tenant: t.slug })) as unknown as { kid: string; published: string[] };
    expect(rotated.published).toHaveLength(2);
    const after = await tokenRequest(app, t, form);
    const kid = JSON.parse(Buffer.from(after.body.access_token!.split('.')[0]!, 'base64url').toString()).kid;
    expect(kid).toBe(rotated.kid);
    expect(await app.services.accessTokens.verify(t, before.body.access_token!, scim)).not.toBeNull();
    expect(await app.services.accessTokens.verify(t, after.body.access_token!, scim)).not.toBeNull();
  });

  it('lists pre-registered public clients with their redirect URIs', async () => {
    const t = await app.createTenant();
    const created = await run('client add', { tenant: t.slug, name: 'VS Code', 'redirect-uri': ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect'] });
    expect(created.client_secret).toBeUndefined();
    const { clients } = (await run('client list', { tenant: t.slug })) as unknown as { clients: { client_id: string; redirect_uris: string[] }[] };
    expect(clients.find((c) => c.client_id === created.client_id)?.redirect_uris).toContain('https://vscode.dev/redirect');
    await expect(run('client add', { tenant: t.slug, name: 'Bad', 'redirect-uri': ['http://evil.example/cb'] })).rejects.toThrow(/redirect/);
  });
});
