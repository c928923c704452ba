import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../mcp/support.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startIdJagIdp, type IdJagIdp } from './support/id-jag-idp.js';
import { crossAppTenant, ID_TOKEN_TYPE, lastAudit, linkedUser, tokenCall, TOKEN_EXCHANGE, type CrossAppTenant } from './support/cross-app.js';

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

describe.each(testDbKinds)('RFC 8693 token exchange at the tenant AS (%s)', (kind) => {
  let app: TestApp;
  let idp: IdJagIdp;
  let otherIdp: IdJagIdp;
  const appNow = () => app.clock.now().getTime();
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = await startIdJagIdp(appNow);
    otherIdp = await startIdJagIdp(appNow);
  });
  afterAll(async () => {
    await idp?.close();
    await otherIdp?.close();
    await app?.close();
  });

  const exchange = (c: CrossAppTenant, subjectToken: string, extra: Record<string, string | string[]> = {}) =>
    tokenCall(app, c, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ID_TOKEN_TYPE, ...extra });
  const payloadOf = (jwt: unknown) => JSON.parse(Buffer.from(String(jwt).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

  it('exchanges a valid ID token of the tenant IdP for an MCP access token (no refresh token, issued_token_type, audited)', async () => {
    // The tenant's SSO IdP is trusted for token exchange without being an ID-JAG issuer.
    const c = await crossAppTenant(app, idp, { idJag: false, grants: ['token-exchange'] });
    const user = await linkedUser(c, 'alice');
    const res = await exchange(c, await idp.idToken({ sub: 'alice' }), { resource: c.mcp, requested_token_type: ACCESS_TOKEN_TYPE });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'mcp:tools' });
    expect(res.body.refresh_token).toBeUndefined();
    expect(await app.services.accessTokens.verify(c.t, String(res.body.access_token), c.mcp)).toMatchObject({ userId: user.id, clientId: c.client.client_id });
    expect(payloadOf(res.body.access_token).act).toBeUndefined();
    expect(await lastAudit(app, c.t, 'oauth.token.exchange')).toMatchObject({ outcome: 'success', detail: { userId: user.id, connectionId: c.connId } });
  });

  it('records a verified actor token in act (RFC 8693 §4.1) and honours may_act (§4.4)', async () => {
    const c = await crossAppTenant(app, idp, { grants: ['token-exchange'] });
    await linkedUser(c, 'bob');
    const actor = await idp.idToken({ sub: 'agent-7' });
    const res = await exchange(c, await idp.idToken({ sub: 'bob' }), { actor_token: actor, actor_token_type: ID_TOKEN_TYPE });
    expect(res.status).toBe(200);
    expect(payloadOf(res.body.access_token).act).toEqual({ sub: 'agent-7', iss: idp.issuer });
    const restricted = await idp.idToken({ sub: 'bob', may_act: { sub: 'someone-else', iss: idp.issuer } });
    expect((await exchange(c, restricted, { actor_token: actor, actor_token_type: ID_TOKEN_TYPE })).body.error).toBe('invalid_request');
    expect((await exchange(c, await idp.idToken({ sub: 'bob' }), { actor_token: actor })).body.error).toBe('invalid_request');
  });

  it('refuses subject tokens that are not this tenant’s valid ID tokens with invalid_request, and audits why', async () => {
    const c = await crossAppTenant(app, idp, { grants: ['token-exchange'] });
    const other = await crossAppTenant(app, otherIdp, { grants: ['token-exchange'] });
    await linkedUser(c, 'carol');
    await linkedUser(c, 'dan', { active: false });
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const cases: [string, string, RegExp][] = [
      ['wrong audience (an ID token for another app)', await idp.idToken({ sub: 'carol', aud: 'some-other-app' }), /aud/],
      ['several audiences without azp', await idp.idToken({ sub: 'carol', aud: [idp.clientId, 'x'] }), /azp/],
      ['expired', await idp.idToken({ sub: 'carol', iat: now - 7200, exp: now - 3600 }), /expired/],
      ['another tenant’s IdP', await otherIdp.idToken({ sub: 'carol' }), /not an OIDC IdP of this tenant/],
      ['an ID-JAG passed off as an ID token', await idp.idJag({ sub: 'carol', aud: c.issuer, client_id: c.client.client_id }), /typ/],
      ['inactive user', await idp.idToken({ sub: 'dan' }), /inactive/],
      ['unknown user (no JIT)', await idp.idToken({ sub: 'nobody' }), /subject refused/],
    ];
    for (const [name, token, reason] of cases) {
      const res = await exchange(c, token);
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 400, error: 'invalid_request' });
      const audit = await lastAudit(app, c.t, 'oauth.token.exchange');
      expect({ name, outcome: audit?.outcome, reason: audit?.detail.reason }).toEqual({ name, outcome: 'failure', reason: expect.stringMatching(reason) });
    }
    // Paired: the other tenant accepts its own IdP's token and refuses ours.
    await linkedUser(other, 'carol');
    expect((await exchange(other, await otherIdp.idToken({ sub: 'carol' }))).status).toBe(200);
    expect((await exchange(other, await idp.idToken({ sub: 'carol' }))).body.error).toBe('invalid_request');
  });

  it('answers the request errors of RFC 8693 §2.2.2: invalid_request for shape and types, invalid_target for another resource', async () => {
    const c = await crossAppTenant(app, idp, { grants: ['token-exchange'] });
    const other = await crossAppTenant(app, idp, { grants: ['token-exchange'] });
    await linkedUser(c, 'erin');
    const token = await idp.idToken({ sub: 'erin' });
    expect((await tokenCall(app, c, { grant_type: TOKEN_EXCHANGE, subject_token: token })).body.error).toBe('invalid_request');
    expect((await exchange(c, token, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' })).body.error).toBe('invalid_request');
    expect((await exchange(c, token, { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })).body.error).toBe('invalid_request');
    expect((await exchange(c, token, { resource: other.mcp })).body.error).toBe('invalid_target');
    expect((await exchange(c, token, { audience: 'https://elsewhere.example.com' })).body.error).toBe('invalid_target');
    expect((await exchange(c, token, { resource: [c.mcp, other.mcp] })).body.error).toBe('invalid_target');
    expect((await exchange(c, token, { audience: c.mcp })).status).toBe(200);
  });

  it('is off by default: a client without --grant token-exchange cannot use it; the tenant switch turns it off', async () => {
    const c = await crossAppTenant(app, idp); // jwt-bearer only
    await linkedUser(c, 'fay');
    const refused = await exchange(c, await idp.idToken({ sub: 'fay' }));
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toMatch(/grant type is not allowed/);
    const d = await crossAppTenant(app, idp, { grants: ['token-exchange'] });
    await linkedUser(d, 'fay');
    await cli(app, 'tenant settings', { tenant: d.t.slug, 'cross-app-access': 'off' });
    expect((await exchange(d, await idp.idToken({ sub: 'fay' }))).body.error).toBe('unsupported_grant_type');
  });
});
