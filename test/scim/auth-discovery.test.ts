import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScimToken, revokeScimToken } from '../../src/scim/scim-tokens.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ENTERPRISE, ERROR, GROUP, USER, scimTenant } from './scim-client.js';

describe.each(testDbKinds)('SCIM authentication and discovery (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const get = (url: string, authorization?: string) =>
    fetch(url, { headers: authorization === undefined ? {} : { authorization } });

  it('accepts Bearer and the bare token (Okta "HTTP Header" mode), and records last use', async () => {
    const s = await scimTenant(app);
    const bearer = await get(`${s.base}/Users`, `Bearer ${s.token}`);
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    const bare = await get(`${s.base}/Users`, s.token);
    expect(bare.status).toBe(200);
    const row = await s.t.db.scimToken.findUnique({ where: { id: s.tokenId } });
    expect(row?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses missing, wrong, Basic, revoked and other-tenant tokens with 401 SCIM errors', async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const revoked = await createScimToken(a.t, app.url);
    await revokeScimToken(a.t, revoked.id, app.clock);
    const cases: (string | undefined)[] = [
      undefined,
      'Bearer nope',
      `Basic ${Buffer.from(`x:${a.token}`).toString('base64')}`,
      `Bearer ${revoked.token}`,
      `Bearer ${b.token}`, // tenant B's token on tenant A's base URL
      `Bearer ${a.token} extra`,
      'Bearer a.b.c',
      'Bearer eyJhbGciOiJub25lIn0.eyJzY29wZSI6InNjaW0ifQ.',
      `Bearer ${'x'.repeat(5000)}`,
    ];
    for (const authorization of cases) {
      const res = await get(`${a.base}/Users`, authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as { detail?: string };
      expect(body).toMatchObject({ schemas: [ERROR], status: '401' });
      expect(body.detail).toBeTruthy();
    }
    // Discovery needs no tenant data but still requires auth.
    expect((await get(`${a.base}/ServiceProviderConfig`)).status).toBe(401);
    expect((await get(`${a.base}/Schemas`)).status).toBe(401);
  });

  it('serves ServiceProviderConfig advertising only what is implemented', async () => {
    const s = await scimTenant(app);
    const { status, body } = await s.call('GET', '/ServiceProviderConfig?aadOptscim062020');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 500 },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
    });
    expect(body.authenticationSchemes[0].type).toBe('oauthbearertoken');
    expect(JSON.stringify(body)).not.toContain('null');
  });

  it('serves ResourceTypes and Schemas as ListResponses without nulls', async () => {
    const s = await scimTenant(app);
    const types = (await s.call('GET', '/ResourceTypes')).body;
    expect(types.totalResults).toBe(2);
    const user = types.Resources.find((r: { id: string }) => r.id === 'User');
    expect(user).toMatchObject({ endpoint: '/Users', schema: USER, schemaExtensions: [{ schema: ENTERPRISE, required: false }] });
    expect((await s.call('GET', '/ResourceTypes/Group')).body.schema).toBe(GROUP);

    const schemas = (await s.call('GET', '/Schemas')).body;
    expect(schemas.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    expect(schemas.Resources.map((r: { id: string }) => r.id).sort()).toEqual([ENTERPRISE, GROUP, USER].sort());
    expect(JSON.stringify(schemas)).not.toContain('null');
    const core = (await s.call('GET', `/Schemas/${USER}`)).body;
    const userName = core.attributes.find((a: { name: string }) => a.name === 'userName');
    expect(userName).toMatchObject({ type: 'string', required: true, caseExact: false, uniqueness: 'server' });
    const names = core.attributes.map((a: { name: string }) => a.name);
    for (const n of ['name', 'emails', 'phoneNumbers', 'addresses', 'photos', 'roles', 'entitlements', 'x509Certificates', 'groups']) {
      expect(names).toContain(n);
    }
    const groups = core.attributes.find((a: { name: string }) => a.name === 'groups');
    expect(groups.mutability).toBe('readOnly');
    const ent = (await s.call('GET', `/Schemas/${ENTERPRISE}`)).body;
    expect(ent.attributes.map((a: { name: string }) => a.name)).toEqual([
      'employeeNumber',
      'costCenter',
      'organization',
      'division',
      'department',
      'manager',
    ]);
  });

  it('answers /Me and /Bulk with 501 and unknown endpoints with a SCIM 404', async () => {
    const s = await scimTenant(app);
    expect((await s.call('GET', '/Me')).body).toMatchObject({ schemas: [ERROR], status: '501' });
    expect((await s.call('POST', '/Bulk', {})).status).toBe(501);
    const nope = await s.call('GET', '/Nope');
    expect(nope.status).toBe(404);
    expect(nope.body.status).toBe('404');
  });

  it('accepts application/json as well as application/scim+json request bodies', async () => {
    const s = await scimTenant(app);
    const res = await s.call('POST', '/Users', { schemas: [USER], userName: 'json@example.com' }, { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(res.headers.get('location')).toBe(`${s.base}/Users/${res.body.id}`);
  });

  it('lets the OAuth work plug in client-credentials tokens (scope scim, audience = this SCIM base)', async () => {
    const { scimVerifiers } = await import('../../src/scim/scim-auth.js');
    const s = await scimTenant(app);
    const seen: string[] = [];
    const services = Object.assign(Object.create(app.services), {
      accessTokens: {
        async verify(_t: unknown, token: string, audience: string) {
          seen.push(audience);
          if (token !== 'jwt-ok' && token !== 'jwt-noscope') return null;
          const now = new Date();
          return { tenantId: s.t.id, userId: null, clientId: 'entra', scopes: token === 'jwt-ok' ? ['scim'] : ['mcp'], audience, grantId: null, issuedAt: now, expiresAt: now };
        },
      },
    });
    const verifiers = scimVerifiers(services);
    expect(verifiers.map((v) => v.name)).toEqual(['scim-token', 'oauth-access-token']);
    const oauth = verifiers[1]!;
    expect(await oauth.verify(s.t, 'jwt-ok')).toEqual({ kind: 'oauth-client', id: 'entra' });
    expect(await oauth.verify(s.t, 'jwt-noscope')).toBeNull();
    expect(seen[0]).toBe(s.base);
  });
});
