import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../mcp/support.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { JWT_BEARER, linkedUser, TOKEN_EXCHANGE, type CrossAppTenant } from './support/cross-app.js';
import { startIdJagIdp, type IdJagIdp } from './support/id-jag-idp.js';
import { createTestCa, startCimdServer, type CimdServer } from './support/test-ca.js';

/** EMA §5: the client may be a client ID metadata document URL, authenticating with private_key_jwt (§7.5.1). */
describe.each(testDbKinds)('ID-JAG redeemed by a CIMD client (%s)', (kind) => {
  let app: TestApp;
  let cimd: CimdServer;
  let idp: IdJagIdp;
  beforeAll(async () => {
    const ca = createTestCa();
    cimd = await startCimdServer(ca);
    app = await startTestApp(kind, { DANGEROUSLY_ALLOW_CIMD_HOSTS: cimd.host, DANGEROUSLY_CIMD_CA_FILE: ca.caFile });
    idp = await startIdJagIdp(() => app.clock.now().getTime());
  });
  afterAll(async () => {
    await idp?.close();
    await app?.close();
    await cimd?.close();
  });

  async function tenantTrustingIdp() {
    const t = await app.createTenant();
    const conn = await cli(app, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': 'idp-secret-0123456789' });
    await cli(app, 'idp update', { tenant: t.slug, id: String(conn.id), 'id-jag': 'on' });
    const c: CrossAppTenant = { t, connId: String(conn.id), client: { client_id: '', client_secret: '' }, issuer: `${app.url}/t/${t.slug}`, mcp: `${app.url}/t/${t.slug}/mcp` };
    return c;
  }

  async function cimdClient(path: string, extra: Record<string, unknown>) {
    const clientId = `${cimd.origin}${path}`;
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = 'cimd-key';
    cimd.route(path, {
      body: {
        client_id: clientId, client_name: 'EMA agent', redirect_uris: ['http://127.0.0.1:4567/callback'],
        grant_types: ['authorization_code', JWT_BEARER], token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }, ...extra,
      },
    });
    const assertion = (issuer: string) =>
      new SignJWT({ jti: randomBytes(8).toString('hex') })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(clientId).setSubject(clientId).setAudience(issuer)
        .setIssuedAt(Math.floor(app.clock.now().getTime() / 1000)).setExpirationTime(Math.floor(app.clock.now().getTime() / 1000) + 60)
        .sign(privateKey);
    return { clientId, assertion };
  }

  const post = async (c: CrossAppTenant, form: Record<string, string>) => {
    const res = await fetch(`${c.issuer}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('redeems with private_key_jwt; refuses the same client without authentication and a document asking for token exchange', async () => {
    const c = await tenantTrustingIdp();
    await linkedUser(c, 'ada');
    const agent = await cimdClient('/agents/ok.json', {});
    const jag = (clientId: string) => idp.idJag({ sub: 'ada', aud: c.issuer, client_id: clientId, resource: c.mcp });
    const ok = await post(c, {
      grant_type: JWT_BEARER, assertion: await jag(agent.clientId), client_id: agent.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await agent.assertion(c.issuer),
    });
    expect(ok.status).toBe(200);
    expect((await app.services.accessTokens.verify(c.t, String(ok.body.access_token), c.mcp))?.clientId).toBe(agent.clientId);

    const publicDoc = `${cimd.origin}/agents/public.json`;
    cimd.route('/agents/public.json', {
      body: { client_id: publicDoc, client_name: 'Public agent', redirect_uris: ['http://127.0.0.1:4567/callback'], grant_types: ['authorization_code', JWT_BEARER], token_endpoint_auth_method: 'none' },
    });
    expect((await post(c, { grant_type: JWT_BEARER, assertion: await jag(publicDoc), client_id: publicDoc })).body.error).toBe('invalid_client');

    const exchanger = await cimdClient('/agents/exchange.json', { grant_types: ['authorization_code', JWT_BEARER, TOKEN_EXCHANGE] });
    const refused = await post(c, {
      grant_type: JWT_BEARER, assertion: await jag(exchanger.clientId), client_id: exchanger.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await exchanger.assertion(c.issuer),
    });
    expect(refused.status).toBe(400);
    expect(refused.body.access_token).toBeUndefined();
  });
});
