import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { withdrawConsent } from '../../src/consent/consent-store.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { obtainTokens } from '../oauth/support/oauth-client.js';
import { cli, connect, startUpstream, type Upstream } from './support.js';

/**
 * Revocation with the real authorization server and verifier: every change takes effect on the very next MCP
 * request (and ends open streams), with no waiting.
 */
describe.each(testDbKinds)('MCP revocation on the next request (%s)', (kind) => {
  let app: TestApp;
  let upstream: Upstream;
  beforeAll(async () => {
    app = await startTestApp(kind);
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
  });

  /** A SCIM-provisioned user in group Engineering, a tool approved for that group, and an SDK client with a real token. */
  async function setup() {
    const t = await app.createTenant();
    const scim = await createScimToken(t, app.url);
    const scimFetch = async (method: string, path: string, body?: unknown) =>
      fetch(`${app.url}/t/${t.slug}/scim/v2/${path}`, {
        method,
        headers: { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const user = (await (
      await scimFetch('POST', 'Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'dev@example.com', emails: [{ value: 'dev@example.com', primary: true }], active: true })
    ).json()) as { id: string };
    const group = (await (
      await scimFetch('POST', 'Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineering', members: [{ value: user.id }] })
    ).json()) as { id: string };
    await cli(app, 'upstream add', { tenant: t.slug, name: 'ops', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'ops__echo', group: ['Engineering'] });
    const { client: oauthClient, tokens } = await obtainTokens(app, t, user.id);
    const token = tokens.body.access_token!;
    const { client } = await connect(app, t, token);
    return { t, user, group, token, oauthClient, client, scimFetch };
  }

  const status = async (t: TenantCtx, token: string) =>
    (
      await fetch(mcpResourceUrl(app.url, t), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      })
    ).status;

  it('SCIM group removal: the tool leaves the next tools/list and an open stream hears list_changed', async () => {
    const { user, group, client, scimFetch } = await setup();
    expect((await client.listTools()).tools.map((x) => x.name)).toContain('ops__echo');
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    const patch = await scimFetch('PATCH', `Groups/${group.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: `members[value eq "${user.id}"]` }],
    });
    expect(patch.status).toBeLessThan(300);
    expect((await client.listTools()).tools.map((x) => x.name)).toEqual(['whoami']);
    await expect(client.callTool({ name: 'ops__echo', arguments: { text: 'x' } })).rejects.toThrow(/Unknown tool/);
    await changed;
    await client.close();
  });

  it('SCIM deletion ends the token on the next request', async () => {
    const { t, user, token, client, scimFetch } = await setup();
    expect(await status(t, token)).toBe(200);
    expect((await scimFetch('DELETE', `Users/${user.id}`)).status).toBe(204);
    expect(await status(t, token)).toBe(401);
    await client.close().catch(() => undefined);
  });

  it('tool revocation applies to the next tools/list and tools/call', async () => {
    const { t, client } = await setup();
    expect((await client.callTool({ name: 'ops__echo', arguments: { text: 'a' } })).isError).toBeFalsy();
    await cli(app, 'tool revoke', { tenant: t.slug, tool: 'ops__echo' });
    expect((await client.listTools()).tools.map((x) => x.name)).toEqual(['whoami']);
    await expect(client.callTool({ name: 'ops__echo', arguments: { text: 'b' } })).rejects.toThrow(/Unknown tool/);
    await client.close();
  });

  it('consent withdrawal ends the token on the next request', async () => {
    const { t, user, token, oauthClient, client } = await setup();
    expect(await status(t, token)).toBe(200);
    await withdrawConsent(app.services, t, user.id, oauthClient.client_id);
    expect(await status(t, token)).toBe(401);
    await client.close().catch(() => undefined);
  });

  it('grant revocation (RFC 7009 on the refresh token) ends the access token on the next request', async () => {
    const setupResult = await setup();
    const { t, token, client } = setupResult;
    // RFC 7009 §2.1: a client revokes only its own tokens, so the revoking client is the one the tokens were issued to.
    const { tokens, client: oauthClient } = await obtainTokens(app, t, setupResult.user.id);
    expect(await status(t, tokens.body.access_token!)).toBe(200);
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.body.refresh_token!, token_type_hint: 'refresh_token', client_id: oauthClient.client_id }),
    });
    expect(res.status).toBe(200);
    expect(await status(t, tokens.body.access_token!)).toBe(401);
    expect(await status(t, token)).toBe(200); // another grant: untouched
    await client.close();
  });

  it('revocation of the user ends an open GET stream and refuses the next request', async () => {
    const { t, user, token, client } = await setup();
    await client.close();
    const stream = await fetch(mcpResourceUrl(app.url, t), {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-protocol-version': '2025-11-25' },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.getReader();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return true;
    })();
    await app.services.revocation.revokeUser(t, user.id, 'admin.revoked');
    expect(await ended).toBe(true);
    expect(await status(t, token)).toBe(401);
  });
});
