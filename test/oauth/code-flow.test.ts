import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { authorize, createUser, mcpUrl, pkce, registerClient, signedInBrowser, tokenRequest } from './support/oauth-client.js';

describe.each(testDbKinds)('authorization code flow with PKCE (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('signs in, shows consent with the tool list, issues an audience-bound token the verifier accepts', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t, { client_name: 'Claude Test' });
    const b = await signedInBrowser(app, t, user.id);
    const { verifier, challenge } = pkce();
    const redirectUri = client.redirect_uris[0]!;
    const { redirect, pages } = await authorize(app, b, {
      client_id: client.client_id, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge,
      code_challenge_method: 'S256', state: 'xyz', resource: mcpUrl(app, t),
    }, t);
    const consent = pages.find((p) => p.body.includes('csrf'));
    expect(consent?.body).toContain('Claude Test');
    expect(consent?.body).toContain('whoami');
    expect(consent?.body).toContain('runs on your own computer');
    expect(consent?.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // form-action also governs the redirects after the POST: our origin and the client's redirect origin only.
    expect(consent?.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:4567;");
    expect(redirect?.searchParams.get('state')).toBe('xyz');
    expect(redirect?.searchParams.get('iss')).toBe(`${app.url}/t/${t.slug}`);
    const code = redirect!.searchParams.get('code')!;
    const tokens = await tokenRequest(app, t, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toContain('no-store');
    expect(tokens.body.refresh_token).toBeTruthy();
    expect(Number(tokens.body.expires_in)).toBeLessThanOrEqual(3600);
    const info = await app.services.accessTokens.verify(t, tokens.body.access_token!, mcpUrl(app, t));
    expect(info).toMatchObject({ tenantId: t.id, userId: user.id, clientId: client.client_id, audience: mcpUrl(app, t) });
    expect(info!.scopes).toContain('mcp:tools');
    // The issuance event is queued before the token response and written in the background: flush, then read.
    await app.services.audit.flush();
    const events = await t.db.auditEvent.findMany({ where: { action: 'oauth.token.issue' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorKind: 'user', actorId: user.id, targetId: client.client_id });
    expect(events[0]!.detail).toMatchObject({ grantType: 'authorization_code', resource: mcpUrl(app, t), scope: 'mcp:tools' });
    expect(JSON.stringify(events[0])).not.toContain(tokens.body.access_token!.slice(-20));
  });

  it('grants the known subset when a client asks for scopes we never advertised, and still issues a refresh token', async () => {
    const t = await app.createTenant();
    const user = await createUser(t);
    const client = await registerClient(app, t);
    const b = await signedInBrowser(app, t, user.id);
    const { verifier, challenge } = pkce();
    const redirectUri = client.redirect_uris[0]!;
    const { redirect } = await authorize(app, b, {
      client_id: client.client_id, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge,
      code_challenge_method: 'S256', resource: mcpUrl(app, t), scope: 'openid profile email offline_access calendar.write',
    }, t);
    const code = redirect?.searchParams.get('code');
    expect(code, String(redirect)).toBeTruthy();
    const tokens = await tokenRequest(app, t, { grant_type: 'authorization_code', code: code!, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeTruthy();
    const info = await app.services.accessTokens.verify(t, tokens.body.access_token!, mcpUrl(app, t));
    expect(info?.scopes).toEqual(['mcp:tools']);
  });
});
