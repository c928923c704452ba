import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { addClient } from '../../src/oauth/manage-clients.js';
import { REVOKED_ACCESS_TOKEN } from '../../src/oauth/revoke-access-token.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { basicAuth, createUser, mcpUrl, obtainTokens, registerClient, tokenRequest } from './support/oauth-client.js';

/**
 * RFC 7009 revocation and RFC 7662 introspection of our access tokens, which are JWTs (RFC 9068): oidc-provider alone
 * answers `unsupported_token_type` for both. One access token ends on the next request, on every node's cache and on
 * the streams opened with it; its grant and refresh token live on. Nobody else's token is touched or described.
 */
describe.each(testDbKinds)('revocation and introspection of JWT access tokens (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());
  afterEach(() => app.clock.set(new Date()));

  const form = (url: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) });
  const revoke = (t: TenantCtx, body: Record<string, string>, headers?: Record<string, string>) => form(`${app.url}/t/${t.slug}/oauth/revoke`, body, headers);
  const introspect = (t: TenantCtx, body: Record<string, string>, headers?: Record<string, string>) => form(`${app.url}/t/${t.slug}/oauth/introspect`, body, headers);
  const basic = (id: string, secret: string) => ({ authorization: basicAuth({ client_id: id, client_secret: secret }) });
  const mcpStatus = async (t: TenantCtx, token: string) =>
    (
      await fetch(mcpResourceUrl(app.url, t), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      })
    ).status;
  const denied = (t: TenantCtx) => t.db.oidcPayload.count({ where: { model: REVOKED_ACCESS_TOKEN } });

  async function setup(meta: Record<string, unknown> = {}) {
    const t = await app.createTenant();
    const user = await createUser(t);
    const registered = await registerClient(app, t, meta);
    const { client, tokens } = await obtainTokens(app, t, user.id, registered);
    expect(tokens.status).toBe(200);
    return { t, user, client, tokens: tokens.body as { access_token: string; refresh_token: string } };
  }

  it('revokes one access token: refused on the next request, the grant and its refresh token live on, audited', async () => {
    const { t, user, client, tokens } = await setup();
    expect(await mcpStatus(t, tokens.access_token)).toBe(200); // verified, so cached on this node
    const counters = await app.services.db.rateLimitCounter.count();
    // RFC 7009 §2.1: a wrong hint does not stop the server from finding the token.
    const res = await revoke(t, { token: tokens.access_token, token_type_hint: 'refresh_token', client_id: client.client_id });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(await mcpStatus(t, tokens.access_token)).toBe(401);
    expect(await app.services.accessTokens.verify(t, tokens.access_token, mcpUrl(app, t))).toBeNull();
    // An answered revocation is no failure at the endpoints that authenticate clients.
    expect(await app.services.db.rateLimitCounter.count()).toBe(counters);
    const refreshed = await tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    expect(await mcpStatus(t, refreshed.body.access_token!)).toBe(200);
    // Revoking it again is harmless (RFC 7009 §2.2: an invalid token is answered 200).
    expect((await revoke(t, { token: tokens.access_token, client_id: client.client_id })).status).toBe(200);
    const events = await t.db.auditEvent.findMany({ where: { action: 'oauth.token.revoke' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'success', actorKind: 'user', actorId: user.id, targetKind: 'oauth-client', targetId: client.client_id });
    expect(events[0]!.detail).toMatchObject({ revoked: 'access_token' });
    expect(JSON.stringify(events)).not.toContain(tokens.access_token);
  });

  it('revoking the refresh token still ends the grant, and is audited too', async () => {
    const { t, client, tokens } = await setup();
    expect((await revoke(t, { token: tokens.refresh_token, client_id: client.client_id })).status).toBe(200);
    expect(await mcpStatus(t, tokens.access_token)).toBe(401);
    const events = await t.db.auditEvent.findMany({ where: { action: 'oauth.token.revoke' } });
    expect(events.map((e) => (e.detail as { revoked: string }).revoked)).toEqual(['refresh_token']);
  });

  it('leaves tokens of another client, another tenant, forged or expired ones alone — and answers 200 all the same', async () => {
    const { t, user, tokens } = await setup();
    const other = await registerClient(app, t);
    const theirs = await app.createTenant();
    const theirClient = await registerClient(app, theirs);
    const [h, p, sig] = tokens.access_token.split('.') as [string, string, string];
    const forged = `${h}.${p}.${sig.slice(0, -4)}AAAA`;
    for (const [tenant, clientId, token] of [
      [t, other.client_id, tokens.access_token], // RFC 7009 §2.1: another client's token
      [theirs, theirClient.client_id, tokens.access_token], // another tenant's token at its endpoint
      [t, other.client_id, forged],
      [t, other.client_id, 'not-a-token.at.all'],
    ] as const) {
      const res = await revoke(tenant, { token, client_id: clientId });
      expect(res.status).toBe(200);
    }
    expect(await denied(t)).toBe(0);
    expect(await denied(theirs)).toBe(0);
    expect(await mcpStatus(t, tokens.access_token)).toBe(200);
    // An expired token is nothing to revoke.
    const { client: mine, tokens: late } = await obtainTokens(app, t, user.id, other);
    app.clock.advance(2 * 3600_000);
    expect((await revoke(t, { token: late.body.access_token!, client_id: mine.client_id })).status).toBe(200);
    expect(await denied(t)).toBe(0);
  });

  it('introspects a live token for the confidential client it was issued to, and says inactive after revocation', async () => {
    const { t, user, client, tokens } = await setup({ token_endpoint_auth_method: 'client_secret_basic' });
    const auth = basic(client.client_id, client.client_secret!);
    const res = await introspect(t, { token: tokens.access_token }, auth);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ active: true, client_id: client.client_id, sub: user.id, aud: mcpUrl(app, t), iss: `${app.url}/t/${t.slug}`, token_type: 'Bearer' });
    expect(typeof body.exp).toBe('number');
    expect(typeof body.jti).toBe('string');
    expect((await revoke(t, { token: tokens.access_token }, auth)).status).toBe(200);
    expect(await (await introspect(t, { token: tokens.access_token }, auth)).json()).toEqual({ active: false });
  });

  it('tells nothing about a token to a public client, another client or another tenant', async () => {
    const { t, user, client, tokens } = await setup();
    const confidential = await registerClient(app, t, { token_endpoint_auth_method: 'client_secret_basic' });
    const theirs = await app.createTenant();
    const theirClient = await registerClient(app, theirs, { token_endpoint_auth_method: 'client_secret_basic' });
    // RFC 7662 §4: the public client the token was issued to cannot introspect (it cannot authenticate).
    expect(await (await introspect(t, { token: tokens.access_token, client_id: client.client_id })).json()).toEqual({ active: false });
    expect(await (await introspect(t, { token: tokens.access_token }, basic(confidential.client_id, confidential.client_secret!))).json()).toEqual({ active: false });
    expect(await (await introspect(theirs, { token: tokens.access_token }, basic(theirClient.client_id, theirClient.client_secret!))).json()).toEqual({ active: false });
    // Its own token, yes: the refusals above were about whose token it is.
    const own = await obtainTokens(app, t, user.id, confidential);
    const mine = await introspect(t, { token: own.tokens.body.access_token! }, basic(confidential.client_id, confidential.client_secret!));
    expect(((await mine.json()) as { active: boolean }).active).toBe(true);
    // A wrong secret is still a client authentication failure, before any token is looked at.
    expect((await introspect(t, { token: own.tokens.body.access_token! }, basic(confidential.client_id, 'wrong'))).status).toBe(401);
  });

  it('ends an open MCP stream opened with the revoked token, and only that one', async () => {
    const { t, user, client, tokens } = await setup();
    const second = await obtainTokens(app, t, user.id, client);
    const open = async (token: string) => {
      const stream = await fetch(mcpResourceUrl(app.url, t), {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-protocol-version': '2025-11-25' },
      });
      expect(stream.status).toBe(200);
      return stream.body!.getReader();
    };
    const revokedStream = await open(tokens.access_token);
    const keptStream = await open(second.tokens.body.access_token!);
    const ended = (async () => {
      for (;;) if ((await revokedStream.read()).done) return true;
    })();
    expect((await revoke(t, { token: tokens.access_token, client_id: client.client_id })).status).toBe(200);
    expect(await ended).toBe(true);
    expect(await mcpStatus(t, second.tokens.body.access_token!)).toBe(200);
    await keptStream.cancel();
  });

  it('revokes a client-credentials token (SCIM): refused at once, a new one works', async () => {
    const t = await app.createTenant();
    const machine = await addClient(app.services, t, { name: 'Entra provisioning', redirectUris: [], scim: true });
    const auth = basic(machine.client_id, machine.client_secret!);
    const issue = async () => {
      const res = await tokenRequest(app, t, { grant_type: 'client_credentials' }, auth);
      expect(res.status).toBe(200);
      return res.body.access_token!;
    };
    const users = (token: string) => fetch(`${app.url}/t/${t.slug}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } });
    const token = await issue();
    expect((await users(token)).status).toBe(200);
    expect(((await (await introspect(t, { token }, auth)).json()) as { active: boolean; sub: string }).sub).toBe(machine.client_id);
    expect((await revoke(t, { token }, auth)).status).toBe(200);
    expect((await users(token)).status).toBe(401);
    expect((await users(await issue())).status).toBe(200);
    const [event] = await t.db.auditEvent.findMany({ where: { action: 'oauth.token.revoke' } });
    expect(event).toMatchObject({ actorKind: 'oauth-client', actorId: machine.client_id });
  });
});
