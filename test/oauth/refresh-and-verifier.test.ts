import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser, mcpUrl, obtainTokens, tokenRequest } from './support/oauth-client.js';

describe.each(testDbKinds)('refresh rotation and the access-token verifier (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());
  // oidc-provider stamps tokens with the real time: tests that advance the app clock put it back afterwards.
  afterEach(() => app.clock.set(new Date()));

  async function setup() {
    const t = await app.createTenant();
    const user = await createUser(t);
    const { client, tokens, browser } = await obtainTokens(app, t, user.id);
    expect(tokens.status).toBe(200);
    const refresh = (rt: string) => tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: rt, client_id: client.client_id });
    return { t, user, client, tokens: tokens.body, refresh, browser };
  }

  it('rotates the refresh token on every use and keeps the resource', async () => {
    const { t, client, tokens, refresh } = await setup();
    const r1 = await refresh(tokens.refresh_token!);
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(tokens.refresh_token);
    const info = await app.services.accessTokens.verify(t, r1.body.access_token!, mcpUrl(app, t));
    expect(info?.audience).toBe(mcpUrl(app, t));
    // Refresh may not widen the resource (RFC 8707 §2.2); a refused attempt leaves the token usable.
    const other = await tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token!, client_id: client.client_id, resource: `${app.url}/t/${t.slug}/scim/v2` });
    expect(other.body.error).toBe('invalid_target');
    const r2 = await refresh(r1.body.refresh_token!);
    expect(r2.status).toBe(200);
  });

  it('gives two parallel refreshes of one token the same successor', async () => {
    const { tokens, refresh } = await setup();
    const results = await Promise.all([refresh(tokens.refresh_token!), refresh(tokens.refresh_token!), refresh(tokens.refresh_token!)]);
    for (const r of results) expect(r.status).toBe(200);
    expect(new Set(results.map((r) => r.body.refresh_token)).size).toBe(1);
    // The shared successor works afterwards.
    expect((await refresh(results[0]!.body.refresh_token!)).status).toBe(200);
  });

  it('records a replay answered within the grace window in the audit log (never the token)', async () => {
    const { t, tokens, refresh, client } = await setup();
    const r1 = await refresh(tokens.refresh_token!);
    expect(await t.db.auditEvent.count({ where: { action: 'oauth.refresh.grace_replay' } })).toBe(0);
    app.clock.advance(9_000);
    const late = await refresh(tokens.refresh_token!);
    expect(late.status).toBe(200);
    expect(late.body.refresh_token).toBe(r1.body.refresh_token);
    const events = await t.db.auditEvent.findMany({ where: { action: 'oauth.refresh.grace_replay' } });
    expect(events).toHaveLength(1);
    const grant = await t.db.oidcPayload.findFirstOrThrow({ where: { model: 'RefreshToken', id: tokens.refresh_token! } });
    expect(events[0]).toMatchObject({ outcome: 'success', actorId: client.client_id, targetKind: 'oauth-grant', targetId: grant.grantId });
    expect(JSON.stringify(events[0])).not.toContain(tokens.refresh_token!);
    // Another tenant's log is untouched.
    const other = await app.createTenant();
    expect(await other.db.auditEvent.count({ where: { action: 'oauth.refresh.grace_replay' } })).toBe(0);
  });

  it('revokes the whole grant when a used refresh token is replayed after the grace window', async () => {
    const { t, tokens, refresh } = await setup();
    const r1 = await refresh(tokens.refresh_token!);
    expect(r1.status).toBe(200);
    app.clock.advance(11_000);
    const replay = await refresh(tokens.refresh_token!);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await refresh(r1.body.refresh_token!)).body.error).toBe('invalid_grant');
    expect(await app.services.accessTokens.verify(t, r1.body.access_token!, mcpUrl(app, t))).toBeNull();
    expect(await t.db.auditEvent.count({ where: { action: 'oauth.refresh.reuse', outcome: 'failure' } })).toBe(1);
  });

  it('keeps refreshing long after the browser sign-in ended (refresh tokens are not bound to a provider session)', async () => {
    const { tokens, refresh } = await setup();
    app.clock.advance(3 * 24 * 3600_000);
    const r1 = await refresh(tokens.refresh_token!);
    expect(r1.status).toBe(200);
    app.clock.advance(10 * 24 * 3600_000);
    expect((await refresh(r1.body.refresh_token!)).status).toBe(200);
  });

  it('refuses a refresh token after its 14-day idle lifetime', async () => {
    const { tokens, refresh } = await setup();
    app.clock.advance(15 * 24 * 3600_000);
    const res = await refresh(tokens.refresh_token!);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('refuses a token for another tenant, another resource, or after it expired', async () => {
    const { t, tokens } = await setup();
    const other = await app.createTenant();
    const at = tokens.access_token!;
    expect(await app.services.accessTokens.verify(other, at, mcpUrl(app, other))).toBeNull();
    expect(await app.services.accessTokens.verify(other, at, mcpUrl(app, t))).toBeNull();
    expect(await app.services.accessTokens.verify(t, at, `${app.url}/t/${t.slug}/scim/v2`)).toBeNull();
    expect(await app.services.accessTokens.verify(t, `${at.slice(0, -4)}AAAA`, mcpUrl(app, t))).toBeNull();
    expect(await app.services.accessTokens.verify(t, at, mcpUrl(app, t))).not.toBeNull();
    // The app clock stands still while oidc-provider stamps iat with real time: jump past the real expiry.
    app.clock.set(Date.now() + 3601_000);
    expect(await app.services.accessTokens.verify(t, at, mcpUrl(app, t))).toBeNull();
  });

  it('refuses tokens and refresh of a user revoked by the revocation hub (SCIM deactivation)', async () => {
    const { t, user, tokens, refresh } = await setup();
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).not.toBeNull(); // cached now
    await t.db.user.updateMany({ where: { id: user.id }, data: { active: false } });
    await app.services.revocation.revokeUser(t, user.id, 'scim.deactivated');
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).toBeNull();
    expect((await refresh(tokens.refresh_token!)).body.error).toBe('invalid_grant');
    expect(await t.db.oidcPayload.count({ where: { accountId: user.id } })).toBe(0);
  });

  it('revokes tokens when the user disconnects the app, and lists connected apps', async () => {
    const { t, client, tokens, refresh, browser } = await setup();
    const list = await browser.fetch(`${app.url}/t/${t.slug}/api/connected-apps`);
    const apps = ((await list.json()) as { apps: { clientId: string; tools: string[] }[] }).apps;
    expect(apps.map((a) => a.clientId)).toEqual([client.client_id]);
    expect(apps[0]!.tools).toContain('whoami');
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).not.toBeNull();
    const del = await browser.fetch(`${app.url}/t/${t.slug}/api/connected-apps/${encodeURIComponent(client.client_id)}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).toBeNull();
    expect((await refresh(tokens.refresh_token!)).body.error).toBe('invalid_grant');
    expect((await fetch(`${app.url}/t/${t.slug}/api/connected-apps`)).status).toBe(401);
  });

  it('lets the user disconnect an app from the connected-apps page (CSRF-protected form)', async () => {
    const { t, tokens, browser } = await setup();
    const pageUrl = `${app.url}/t/${t.slug}/apps`;
    const html = await (await browser.fetch(pageUrl)).text();
    expect(html).toContain('Test MCP client');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const clientId = /name="client_id" value="([^"]+)"/.exec(html)![1]!;
    const post = (body: Record<string, string>) => browser.fetch(`${pageUrl}/disconnect`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString(),
    });
    expect((await post({ csrf: 'forged', client_id: clientId })).status).toBe(403);
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).not.toBeNull();
    const done = await post({ csrf, client_id: clientId });
    expect(done.status).toBe(303);
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).toBeNull();
    expect(await (await browser.fetch(pageUrl)).text()).toContain('No apps are connected');
    const anonymous = await fetch(pageUrl, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toContain(`/t/${t.slug}/login`);
  });

  it('revokes the grant through RFC 7009 revocation of the refresh token', async () => {
    const { t, client, tokens, refresh } = await setup();
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/revoke`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token!, client_id: client.client_id }).toString(),
    });
    expect(res.status).toBe(200);
    expect((await refresh(tokens.refresh_token!)).body.error).toBe('invalid_grant');
    expect(await app.services.accessTokens.verify(t, tokens.access_token!, mcpUrl(app, t))).toBeNull();
  });
});
