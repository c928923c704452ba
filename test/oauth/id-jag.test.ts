import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import pino from 'pino';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JWKS_REFETCH_COOLDOWN_MS } from '../../src/oauth/cross-app/idp-keys.js';
import { createApp } from '../../src/http/app.js';
import { createServices, type Services } from '../../src/services.js';
import { addToGroup, cli, startUpstream, type Upstream } from '../mcp/support.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startIdJagIdp, type IdJagIdp } from './support/id-jag-idp.js';
import { crossAppTenant, JWT_BEARER, lastAudit, linkedUser, tokenCall, type CrossAppTenant } from './support/cross-app.js';

/** The SDK's non-interactive provider, redeeming an ID-JAG instead of client credentials (as an EMA client does). */
class IdJagProvider extends ClientCredentialsProvider {
  constructor(c: CrossAppTenant, private readonly assertion: string) {
    super({ clientId: c.client.client_id, clientSecret: c.client.client_secret, expectedIssuer: c.issuer });
  }
  override prepareTokenRequest(scope?: string) {
    return new URLSearchParams({ grant_type: JWT_BEARER, assertion: this.assertion, ...(scope && { scope }) });
  }
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe.each(testDbKinds)('ID-JAG (jwt-bearer) grant at the tenant AS (%s)', (kind) => {
  let app: TestApp;
  let idp: IdJagIdp;
  let otherIdp: IdJagIdp;
  let upstream: Upstream;
  const appNow = () => app.clock.now().getTime();
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = await startIdJagIdp(appNow);
    otherIdp = await startIdJagIdp(appNow);
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await upstream?.close();
    await idp?.close();
    await otherIdp?.close();
    await app?.close();
  });

  const claimsFor = (c: CrossAppTenant, sub: string, over: Record<string, unknown> = {}) => ({ sub, aud: c.issuer, client_id: c.client.client_id, resource: c.mcp, scope: 'mcp:tools', ...over });
  const redeem = (c: CrossAppTenant, assertion: string, extra: Record<string, string> = {}, base?: string) =>
    tokenCall(app, c, { grant_type: JWT_BEARER, assertion, ...extra }, base);

  it('a real MCP SDK client redeems an ID-JAG and lists exactly the tools the user is approved for; no refresh token', async () => {
    const c = await crossAppTenant(app, idp);
    const alice = await linkedUser(c, 'alice');
    const bob = await linkedUser(c, 'bob');
    await addToGroup(c.t, alice.id, 'Engineering');
    await cli(app, 'upstream add', { tenant: c.t.slug, name: 'gh', url: upstream.url });
    await cli(app, 'tool approve', { tenant: c.t.slug, tool: 'gh__echo', group: ['Engineering'] });

    const names = async (sub: string) => {
      app.clock.advance(5); // keeps the audit rows of the two redemptions in order
      const provider = new IdJagProvider(c, await idp.idJag(claimsFor(c, sub)));
      const client = new Client({ name: 'ema-client', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(c.mcp), { authProvider: provider }));
      const tools = (await client.listTools()).tools.map((x) => x.name).sort();
      await client.close();
      return { tools, tokens: provider.tokens()! };
    };
    const a = await names('alice');
    expect(a.tools).toEqual(['gh__echo', 'whoami']);
    expect(a.tokens.refresh_token).toBeUndefined();
    expect((await names('bob')).tools).toEqual(['whoami']);

    // The very token the browser flow would give: verifiable at the MCP resource, bound to the user, revocable.
    const info = await app.services.accessTokens.verify(c.t, a.tokens.access_token, c.mcp);
    expect(info).toMatchObject({ userId: alice.id, clientId: c.client.client_id, scopes: ['mcp:tools'] });
    expect(await lastAudit(app, c.t, 'oauth.id-jag.redeem')).toMatchObject({ outcome: 'success', detail: { userId: bob.id, connectionId: c.connId, iss: idp.issuer } });
    await app.services.revocation.revokeUser(c.t, alice.id, 'scim.deactivated');
    expect(await app.services.accessTokens.verify(c.t, a.tokens.access_token, c.mcp)).toBeNull();
  });

  it('answers with a Bearer token for the MCP resource, no-store, the narrowed scope; metadata advertises the profile', async () => {
    const c = await crossAppTenant(app, idp);
    await linkedUser(c, 'carol');
    const res = await redeem(c, await idp.idJag(claimsFor(c, 'carol', { resource: undefined })), { scope: 'mcp:tools openid offline_access', resource: c.mcp });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'mcp:tools', expires_in: 3600 });
    expect(res.body.refresh_token).toBeUndefined();
    const payload = JSON.parse(Buffer.from(String(res.body.access_token).split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ aud: c.mcp, iss: c.issuer, tid: c.t.id, client_id: c.client.client_id });

    const meta = (await (await fetch(`${app.url}/.well-known/oauth-authorization-server/t/${c.t.slug}`)).json()) as Record<string, string[]>;
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining([JWT_BEARER, 'urn:ietf:params:oauth:grant-type:token-exchange']));
    expect(meta.authorization_grant_profiles_supported).toEqual(['urn:ietf:params:oauth:grant-profile:id-jag']);
  });

  it('refuses every malformed, misdirected or forged ID-JAG with invalid_grant, and audits why', async () => {
    const c = await crossAppTenant(app, idp);
    const other = await crossAppTenant(app, idp);
    await linkedUser(c, 'dave');
    await linkedUser(c, 'ivan', { active: false });
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const good = claimsFor(c, 'dave');
    const [head, body] = (await idp.idJag(good)).split('.');
    const pem = Buffer.from(JSON.stringify(idp.publicJwk));
    const hsHeader = b64({ alg: 'HS256', typ: 'oauth-id-jag+jwt', kid: idp.publicJwk.kid });
    const hs256 = `${hsHeader}.${body}.${createHmac('sha256', pem).update(`${hsHeader}.${body}`).digest('base64url')}`;
    const cases: [string, string, RegExp][] = [
      ['no typ', await idp.idJag(good, { typ: undefined }), /typ/],
      ['typ JWT', await idp.idJag(good, { typ: 'JWT' }), /typ/],
      ['typ at+jwt', await idp.idJag(good, { typ: 'at+jwt' }), /typ/],
      ['alg none', `${b64({ alg: 'none', typ: 'oauth-id-jag+jwt' })}.${body}.`, /alg none/],
      ['HS256 keyed with the public key', hs256, /alg HS256/],
      ['signature of another key', `${head}.${body}.${(await otherIdp.idJag(good)).split('.')[2]}`, /signature/],
      ['aud another tenant', await idp.idJag({ ...good, aud: other.issuer }), /aud/],
      ['aud the MCP resource', await idp.idJag({ ...good, aud: c.mcp }), /aud/],
      ['aud with a second audience', await idp.idJag({ ...good, aud: [c.issuer, other.issuer] }), /aud/],
      ['client_id of another client', await idp.idJag({ ...good, client_id: other.client.client_id }), /client_id/],
      ['resource of another tenant', await idp.idJag({ ...good, resource: other.mcp }), /resource/],
      ['expired', await idp.idJag({ ...good, iat: now - 900, exp: now - 300 }), /expired/],
      ['issued in the future', await idp.idJag({ ...good, iat: now + 600, exp: now + 900 }), /future/],
      ['lifetime of a day', await idp.idJag({ ...good, exp: now + 86400 }), /lifetime/],
      ['no jti', await idp.idJag({ ...good, jti: undefined }), /jti missing/],
      ['cnf-bound', await idp.idJag({ ...good, cnf: { jkt: 'x' } }), /cnf/],
      ['issuer this tenant does not trust', await otherIdp.idJag(good), /not an ID-JAG issuer/],
      ['unknown subject (no JIT from an assertion)', await idp.idJag({ ...good, sub: 'mallory' }), /subject refused/],
      ['inactive user', await idp.idJag({ ...good, sub: 'ivan' }), /subject refused: inactive/],
    ];
    for (const [name, assertion, reason] of cases) {
      const res = await redeem(c, assertion);
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 400, error: 'invalid_grant' });
      const audit = await lastAudit(app, c.t, 'oauth.id-jag.redeem');
      expect({ name, outcome: audit?.outcome, reason: audit?.detail.reason }).toEqual({ name, outcome: 'failure', reason: expect.stringMatching(reason) });
    }
    expect((await redeem(c, await idp.idJag(good))).status).toBe(200); // the same claims, well formed, pass
  });

  it('refuses a connection not marked as ID-JAG issuer, a SAML-style request shape and a resource parameter of another tenant', async () => {
    const c = await crossAppTenant(app, idp, { idJag: false });
    await linkedUser(c, 'erin');
    const res = await redeem(c, await idp.idJag(claimsFor(c, 'erin')));
    expect(res.body.error).toBe('invalid_grant');
    await cli(app, 'idp update', { tenant: c.t.slug, id: c.connId, 'id-jag': 'on' });
    const other = await crossAppTenant(app, idp);
    expect((await redeem(c, await idp.idJag(claimsFor(c, 'erin')), { resource: other.mcp })).body.error).toBe('invalid_target');
    expect((await redeem(c, '')).body.error).toBe('invalid_request');
    expect((await redeem(c, 'x'.repeat(20_000))).body.error).toBe('invalid_request');
    expect((await redeem(c, await idp.idJag(claimsFor(c, 'erin')), { scope: 'openid' })).body.error).toBe('invalid_scope');
    expect((await redeem(c, await idp.idJag(claimsFor(c, 'erin', { scope: 'scim' })))).body.error).toBe('invalid_scope');
    expect((await redeem(c, await idp.idJag(claimsFor(c, 'erin')))).status).toBe(200);
  });

  it('clients need the grant: wrong secret, a client without --grant jwt-bearer, a DCR client claiming it', async () => {
    const c = await crossAppTenant(app, idp);
    await linkedUser(c, 'fay');
    const assertion = await idp.idJag(claimsFor(c, 'fay'));
    expect((await tokenCall(app, { ...c, client: { ...c.client, client_secret: 'wrong' } }, { grant_type: JWT_BEARER, assertion })).body.error).toBe('invalid_client');
    const plain = (await cli(app, 'client add', { tenant: c.t.slug, name: 'Plain', confidential: true, 'redirect-uri': ['https://app.example.com/cb'] })) as CrossAppTenant['client'];
    const refused = await tokenCall(app, { ...c, client: plain }, { grant_type: JWT_BEARER, assertion: await idp.idJag(claimsFor(c, 'fay', { client_id: plain.client_id })) });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toMatch(/grant type is not allowed/);
    const dcr = await fetch(`${c.issuer}/oauth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://x.example.com/cb'], grant_types: ['authorization_code', JWT_BEARER], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    expect(dcr.status).toBe(400);
    expect(((await dcr.json()) as { error: string }).error).toBe('invalid_client_metadata');
  });

  it('a client may name the IdPs that vouch for it (--id-jag-idp): another trusted IdP of the tenant is refused', async () => {
    const c = await crossAppTenant(app, idp);
    const second = await cli(app, 'idp add-oidc', { tenant: c.t.slug, issuer: otherIdp.issuer, 'client-id': 'x', 'client-secret': 'idp-secret-0123456789' });
    await cli(app, 'idp update', { tenant: c.t.slug, id: String(second.id), 'id-jag': 'on' });
    const pinned = (await cli(app, 'client add', { tenant: c.t.slug, name: 'Pinned', grant: ['jwt-bearer'], 'id-jag-idp': [c.connId] })) as CrossAppTenant['client'];
    const p = { ...c, client: pinned };
    await linkedUser(c, 'jo');
    const viaOther = await otherIdp.idJag(claimsFor(p, 'jo'));
    expect((await redeem(p, viaOther)).body.error).toBe('invalid_grant');
    expect(await lastAudit(app, c.t, 'oauth.id-jag.redeem')).toMatchObject({ detail: { reason: 'this IdP may not vouch for this client' } });
    expect((await redeem(p, await idp.idJag(claimsFor(p, 'jo')))).status).toBe(200);
    await expect(cli(app, 'client add', { tenant: c.t.slug, name: 'Bad', grant: ['jwt-bearer'], 'id-jag-idp': ['idp_nope'] })).rejects.toThrow(/No OIDC connection/);
  });

  it('per tenant switch: off → unsupported_grant_type and the grants leave the metadata; a disabled tenant answers 404', async () => {
    const c = await crossAppTenant(app, idp);
    await linkedUser(c, 'gus');
    await cli(app, 'tenant settings', { tenant: c.t.slug, 'cross-app-access': 'off' });
    expect((await redeem(c, await idp.idJag(claimsFor(c, 'gus')))).body.error).toBe('unsupported_grant_type');
    const meta = (await (await fetch(`${app.url}/.well-known/oauth-authorization-server/t/${c.t.slug}`)).json()) as Record<string, unknown>;
    expect(meta.grant_types_supported).not.toContain(JWT_BEARER);
    expect(meta.authorization_grant_profiles_supported).toBeUndefined();
    await cli(app, 'tenant settings', { tenant: c.t.slug, 'cross-app-access': 'on' });
    expect((await redeem(c, await idp.idJag(claimsFor(c, 'gus')))).status).toBe(200);
    await cli(app, 'tenant disable', { tenant: c.t.slug });
    const res = await fetch(`${c.issuer}/oauth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await idp.idJag(claimsFor(c, 'gus')) }) });
    expect(res.status).toBe(404);
  });

  it('paired tenants trusting the same IdP: an ID-JAG for tenant A is refused by B, and A’s token does not open B’s MCP endpoint', async () => {
    const a = await crossAppTenant(app, idp);
    const b = await crossAppTenant(app, idp);
    await linkedUser(a, 'hal');
    await linkedUser(b, 'hal');
    const forA = await idp.idJag(claimsFor(a, 'hal'));
    // Presented by B's own client at B: aud, client_id and resource all name A.
    expect((await redeem(b, forA)).body.error).toBe('invalid_grant');
    const tokenA = String((await redeem(a, forA)).body.access_token);
    expect(await app.services.accessTokens.verify(b.t, tokenA, b.mcp)).toBeNull();
    const res = await fetch(b.mcp, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
  });

  it('follows an IdP key rollover (unknown kid → one JWKS refetch), but refetches at most once per cooldown', async () => {
    const rolling = await startIdJagIdp(appNow);
    try {
      const c = await crossAppTenant(app, rolling);
      await linkedUser(c, 'kim');
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      expect((await redeem(c, await rolling.idJag(claimsFor(c, 'kim')))).status).toBe(200);
      const fetched = rolling.jwksFetches;
      await rolling.rotate();
      // Within the cooldown an unknown kid costs the IdP nothing: a flood of forged kids is no amplifier.
      for (let i = 0; i < 3; i++) expect((await redeem(c, await rolling.idJag(claimsFor(c, 'kim')))).body.error).toBe('invalid_grant');
      expect(rolling.jwksFetches).toBe(fetched);
      vi.advanceTimersByTime(JWKS_REFETCH_COOLDOWN_MS + 1000);
      app.clock.advance(JWKS_REFETCH_COOLDOWN_MS + 1000);
      expect((await redeem(c, await rolling.idJag(claimsFor(c, 'kim')))).status).toBe(200);
      expect(rolling.jwksFetches).toBe(fetched + 1);
    } finally {
      vi.useRealTimers();
      await rolling.close();
    }
  });

  describe('two nodes over one database', () => {
    let nodeB: { s: Services; url: string; close(): Promise<void> };
    beforeAll(async () => {
      const s = await createServices(app.config, { clock: app.clock, logger: pino({ level: 'silent' }), database: app.services.database });
      const server = http.createServer(createApp(s));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      nodeB = {
        s,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: async () => {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    });
    afterAll(async () => nodeB?.close());

    it('a jti redeemed on one node is refused on the other, also when both race', async () => {
      const c = await crossAppTenant(app, idp);
      await linkedUser(c, 'ida');
      const once = await idp.idJag(claimsFor(c, 'ida'));
      expect((await redeem(c, once)).status).toBe(200);
      const replay = await redeem(c, once, {}, nodeB.url);
      expect(replay.body.error).toBe('invalid_grant');
      expect(await lastAudit(app, c.t, 'oauth.id-jag.redeem', [nodeB.s])).toMatchObject({ outcome: 'failure', detail: { reason: 'jti already used' } });
      const raced = await idp.idJag(claimsFor(c, 'ida'));
      const results = await Promise.all([redeem(c, raced), redeem(c, raced, {}, nodeB.url)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    });
  });
});
