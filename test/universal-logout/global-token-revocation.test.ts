import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateRules } from '../../src/http/rate-limit.js';
import { newId } from '../../src/lib/ids.js';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { cli } from '../mcp/support.js';
import { crossAppTenant, ID_TOKEN_TYPE, JWT_BEARER, lastAudit, linkedUser, TOKEN_EXCHANGE, tokenCall, type CrossAppTenant } from '../oauth/support/cross-app.js';
import { startIdJagIdp, type IdJagIdp } from '../oauth/support/id-jag-idp.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe.each(testDbKinds)('Global Token Revocation / Okta Universal Logout (%s)', (kind) => {
  let app: TestApp;
  let okta: IdJagIdp;
  let otherIdp: IdJagIdp;
  beforeAll(async () => {
    app = await startTestApp(kind);
    okta = await startIdJagIdp(() => app.clock.now().getTime());
    otherIdp = await startIdJagIdp(() => app.clock.now().getTime());
  });
  afterAll(async () => {
    await okta?.close();
    await otherIdp?.close();
    await app?.close();
  });

  const endpoint = (c: CrossAppTenant) => `${c.issuer}/global-token-revocation`;
  /** A request JWT as Okta signs it: org issuer, aud = the endpoint, short-lived, unique jti. */
  const gtrJwt = (c: CrossAppTenant, over: Record<string, unknown> = {}, header: Record<string, unknown> = {}, idp = okta) =>
    idp.idJag({ aud: endpoint(c), ...over }, { typ: 'JWT', ...header });
  const issSub = (sub: string, iss = okta.issuer) => ({ sub_id: { format: 'iss_sub', iss, sub } });
  const revoke = async (c: CrossAppTenant, auth: string | null, body: unknown, url = endpoint(c)) => {
    app.clock.advance(5); // keeps audit rows in request order
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth !== null && { authorization: auth }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  /** A signed-in user with a browser session and an MCP access token (redeemed through the tenant AS). */
  async function signedIn(c: CrossAppTenant, sub: string) {
    const user = await linkedUser(c, sub);
    const { token: session } = await app.services.sessions.create(c.t, { userId: user.id });
    const res = await tokenCall(app, c, { grant_type: JWT_BEARER, assertion: await okta.idJag({ sub, aud: c.issuer, client_id: c.client.client_id, resource: c.mcp, scope: 'mcp:tools' }) });
    expect(res.status).toBe(200);
    const accessToken = String(res.body.access_token);
    const me = () => fetch(`${c.issuer}/api/me`, { headers: { cookie: `${sessionCookieName(app.url, c.t)}=${session}` } }).then((r) => r.status);
    const mcp = () =>
      fetch(c.mcp, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify(initialize),
      }).then((r) => r.status);
    return { user, me, mcp };
  }

  it('a valid request ends the sessions and MCP tokens at once (iss_sub), audits it, and leaves the user active', async () => {
    const c = await crossAppTenant(app, okta);
    const alice = await signedIn(c, 'alice');
    const bob = await signedIn(c, 'bob');
    expect([await alice.me(), await alice.mcp()]).toEqual([200, 200]);

    const res = await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('alice'));
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect([await alice.me(), await alice.mcp()]).toEqual([401, 401]);
    expect([await bob.me(), await bob.mcp()]).toEqual([200, 200]); // only the named user
    expect((await c.t.db.user.findFirst({ where: { id: alice.user.id } }))?.active).toBe(true);
    expect(await lastAudit(app, c.t, 'idp.global-token-revocation')).toMatchObject({
      outcome: 'success',
      detail: { iss: okta.issuer, connectionId: c.connId, userIds: [alice.user.id], subId: { format: 'iss_sub', sub: 'alice' } },
    });
    expect(await lastAudit(app, c.t, 'user.revoke')).toMatchObject({ outcome: 'success', detail: { reason: 'idp.universal-logout' } });

    // The email format, and the tenant issuer as audience, reach the same effect.
    const res2 = await revoke(c, `Bearer ${await gtrJwt(c, { aud: [c.issuer] })}`, { sub_id: { format: 'email', email: 'BOB@example.com' } });
    expect(res2.status).toBe(204);
    expect([await bob.me(), await bob.mcp()]).toEqual([401, 401]);
  });

  it('an assertion issued before the logout mints nothing afterwards (ID-JAG, token exchange); a fresh one does', async () => {
    const c = await crossAppTenant(app, okta, { idJag: true, grants: ['token-exchange', 'jwt-bearer'] });
    const alice = await signedIn(c, 'alice');
    const idJag = (sub = 'alice') => okta.idJag({ sub, aud: c.issuer, client_id: c.client.client_id, resource: c.mcp, scope: 'mcp:tools' });
    const [oldJag, oldIdToken] = [await idJag(), await okta.idToken({ sub: 'alice' })];
    const exchange = (idToken: string) => tokenCall(app, c, { grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN_TYPE });
    expect((await exchange(oldIdToken)).status).toBe(200);
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('alice'))).status).toBe(204);
    expect(await alice.mcp()).toBe(401);
    app.clock.advance(2_000);
    // RFC 7523 §3.1 invalid_grant; RFC 8693 §2.2.2 invalid_request for an unusable subject token.
    expect((await tokenCall(app, c, { grant_type: JWT_BEARER, assertion: oldJag })).body.error).toBe('invalid_grant');
    expect((await exchange(oldIdToken)).body.error).toBe('invalid_request');
    // Signed in at the IdP again: new assertions are issued after the logout.
    expect((await tokenCall(app, c, { grant_type: JWT_BEARER, assertion: await idJag() })).status).toBe(200);
    expect((await exchange(await okta.idToken({ sub: 'alice' }))).status).toBe(200);
  });

  it('refuses every unauthenticated, misdirected or forged request with 401, audits why, and revokes nothing', async () => {
    const c = await crossAppTenant(app, okta);
    const other = await crossAppTenant(app, okta);
    const dave = await signedIn(c, 'dave');
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const [, body] = (await gtrJwt(c)).split('.');
    const hsHeader = b64({ alg: 'HS256', typ: 'JWT', kid: okta.publicJwk.kid });
    const hs256 = `${hsHeader}.${body}.${createHmac('sha256', Buffer.from(JSON.stringify(okta.publicJwk))).update(`${hsHeader}.${body}`).digest('base64url')}`;
    const [head] = (await gtrJwt(c)).split('.');
    const cases: [string, string | null, RegExp][] = [
      ['no Authorization header', null, /no Bearer/],
      ['Basic credentials', `Basic ${Buffer.from('okta:secret').toString('base64')}`, /no Bearer/],
      ['not a JWT', 'Bearer abc.def', /compact JWS/],
      ['alg none', `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${body}.`, /alg none/],
      ['HS256 keyed with the public key', `Bearer ${hs256}`, /alg HS256/],
      ['signature of another key', `Bearer ${head}.${body}.${(await gtrJwt(c, {}, {}, otherIdp)).split('.')[2]}`, /signature/],
      ['issuer of no connection of this tenant', `Bearer ${await gtrJwt(c, {}, {}, otherIdp)}`, /not an OIDC IdP of this tenant/],
      ['expired', `Bearer ${await gtrJwt(c, { iat: now - 900, exp: now - 300 })}`, /expired/],
      ['issued in the future', `Bearer ${await gtrJwt(c, { iat: now + 600, exp: now + 900 })}`, /future/],
      ['lifetime of a day', `Bearer ${await gtrJwt(c, { exp: now + 86400 })}`, /lifetime/],
      ['no exp', `Bearer ${await gtrJwt(c, { exp: undefined })}`, /exp or iat missing/],
      ['no jti', `Bearer ${await gtrJwt(c, { jti: undefined })}`, /jti missing/],
      ['aud another tenant', `Bearer ${await gtrJwt(c, { aud: endpoint(other) })}`, /aud/],
      ['aud the MCP resource', `Bearer ${await gtrJwt(c, { aud: c.mcp })}`, /aud/],
      ['aud with a second audience', `Bearer ${await gtrJwt(c, { aud: [endpoint(c), endpoint(other)] })}`, /aud/],
      ['no aud', `Bearer ${await gtrJwt(c, { aud: undefined })}`, /aud/],
      ['an ID-JAG for this tenant', `Bearer ${await okta.idJag({ sub: 'dave', aud: c.issuer, client_id: c.client.client_id })}`, /typ oauth-id-jag\+jwt/],
      ['a logout token', `Bearer ${await gtrJwt(c, {}, { typ: 'logout+jwt' })}`, /typ logout\+jwt/],
      ['an ID token of the IdP', `Bearer ${await okta.idToken({ sub: 'dave', jti: 'x1' })}`, /aud/],
    ];
    for (const [name, auth, reason] of cases) {
      const res = await revoke(c, auth, issSub('dave'));
      expect({ name, status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({ name, status: 401, challenge: 'Bearer error="invalid_token"' });
      const audit = await lastAudit(app, c.t, 'idp.global-token-revocation');
      expect({ name, outcome: audit?.outcome, reason: audit?.detail.reason }).toEqual({ name, outcome: 'denied', reason: expect.stringMatching(reason) });
    }
    expect([await dave.me(), await dave.mcp()]).toEqual([200, 200]);
    // A malformed body from an unauthenticated caller is still a 401: nothing is parsed before authentication.
    expect((await revoke(c, null, 'not json')).status).toBe(401);
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('dave'))).status).toBe(204); // the same request, well formed, passes
  });

  it('bounds what anonymous failures write: over the limit they are 429 and leave no audit row; the IdP still gets through', async () => {
    const c = await crossAppTenant(app, okta);
    const rows = () => c.t.db.auditEvent.count({ where: { action: 'idp.global-token-revocation' } });
    for (let i = 0; i < rateRules.idpSignalFailNet.limit; i++) expect((await revoke(c, null, { x: 'y' })).status).toBe(401);
    expect(await rows()).toBe(rateRules.idpSignalFailNet.limit);
    const over = await revoke(c, 'Bearer not.a.jwt', issSub('alice'));
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    const events = await fetch(`${c.issuer}/ssf/events`, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body: 'not-a-jwt' });
    expect(events.status).toBe(429);
    expect(await rows()).toBe(rateRules.idpSignalFailNet.limit);
    expect(await c.t.db.auditEvent.count({ where: { action: 'idp.ssf.event' } })).toBe(0);
    // A request the IdP signed is never held back by others' failures.
    const alice = await signedIn(c, 'alice');
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('alice'))).status).toBe(204);
    expect(await alice.me()).toBe(401);
  });

  it('accepts a jti once: a replayed request is refused with 401', async () => {
    const c = await crossAppTenant(app, okta);
    await signedIn(c, 'erin');
    const jwt = await gtrJwt(c);
    expect((await revoke(c, `Bearer ${jwt}`, issSub('erin'))).status).toBe(204);
    const again = await revoke(c, `Bearer ${jwt}`, issSub('erin'));
    expect(again.status).toBe(401);
    expect(await lastAudit(app, c.t, 'idp.global-token-revocation')).toMatchObject({ outcome: 'denied', detail: { reason: 'jti already used' } });
    // The same jti in the cross-app replay guard does not collide (separate scope), and a fresh jti is fine.
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('erin'))).status).toBe(204);
  });

  it('answers 400 for a malformed body, 403 for a foreign subject issuer, 404 for an unknown user', async () => {
    const c = await crossAppTenant(app, okta);
    const frank = await signedIn(c, 'frank');
    const cases: [string, unknown, number][] = [
      ['not JSON', '{"sub_id":', 400],
      ['empty body', '', 400],
      ['no sub_id', { sub: 'frank' }, 400],
      ['unsupported format', { sub_id: { format: 'opaque', id: 'frank' } }, 400],
      ['iss_sub without sub', { sub_id: { format: 'iss_sub', iss: okta.issuer } }, 400],
      ['email that is no address', { sub_id: { format: 'email', email: 'frank' } }, 400],
      ['array body', [issSub('frank')], 400],
      ['iss of no connection of this tenant', issSub('frank', otherIdp.issuer), 403],
      ['unknown subject', issSub('mallory'), 404],
      ['unknown email', { sub_id: { format: 'email', email: 'mallory@example.com' } }, 404],
    ];
    for (const [name, body, status] of cases) {
      const res = await revoke(c, `Bearer ${await gtrJwt(c)}`, body);
      expect({ name, status: res.status }).toEqual({ name, status });
      expect({ name, outcome: (await lastAudit(app, c.t, 'idp.global-token-revocation'))?.outcome }).toEqual({ name, outcome: status === 403 ? 'denied' : 'failure' });
    }
    expect([await frank.me(), await frank.mcp()]).toEqual([200, 200]);
  });

  it('cross-tenant: an IdP of one tenant cannot sign anybody out of another, even a user with the same subject', async () => {
    const a = await crossAppTenant(app, okta);
    const b = await crossAppTenant(app, otherIdp);
    const shared = await crossAppTenant(app, okta); // a second tenant of the same Okta org
    const inA = await signedIn(a, 'gina');
    const inShared = await signedIn(shared, 'gina');
    // otherIdp (b's IdP) addressing a: not an IdP of a.
    expect((await revoke(a, `Bearer ${await gtrJwt(a, {}, {}, otherIdp)}`, issSub('gina', otherIdp.issuer))).status).toBe(401);
    // A request minted for b's endpoint, replayed at a.
    expect((await revoke(a, `Bearer ${await gtrJwt(b, {}, {}, otherIdp)}`, issSub('gina'))).status).toBe(401);
    // The same Okta org addressing `shared` signs gina out there only.
    expect((await revoke(shared, `Bearer ${await gtrJwt(shared)}`, issSub('gina'))).status).toBe(204);
    expect([await inShared.me(), await inShared.mcp()]).toEqual([401, 401]);
    expect([await inA.me(), await inA.mcp()]).toEqual([200, 200]);
    // …and a request with a's audience posted at shared is refused.
    expect((await revoke(shared, `Bearer ${await gtrJwt(a)}`, issSub('gina'))).status).toBe(401);
    expect([await inA.me(), await inA.mcp()]).toEqual([200, 200]);
  });

  it('within a tenant, an IdP signs out only its own users: another connection\'s, by iss_sub or by e-mail, are refused', async () => {
    const c = await crossAppTenant(app, okta);
    const conn = await cli(app, 'idp add-oidc', { tenant: c.t.slug, issuer: otherIdp.issuer, 'client-id': otherIdp.clientId, 'client-secret': 'idp-secret-0123456789', name: 'Contractors' });
    const theirs = { ...c, connId: String(conn.id) };
    const vic = await linkedUser(theirs, 'vic', { email: 'vic@example.com' });
    const { token } = await app.services.sessions.create(c.t, { userId: vic.id });
    const me = () => fetch(`${c.issuer}/api/me`, { headers: { cookie: `${sessionCookieName(app.url, c.t)}=${token}` } }).then((r) => r.status);
    // Okta, an IdP of this tenant, naming the other connection's issuer, or the user's e-mail.
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('vic', otherIdp.issuer))).status).toBe(403);
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, { sub_id: { format: 'email', email: 'vic@example.com' } })).status).toBe(404);
    expect(await me()).toBe(200);
    expect(await c.t.db.user.findUnique({ where: { id: vic.id }, select: { revokedBefore: true } })).toEqual({ revokedBefore: null });
    // The user's own IdP can.
    expect((await revoke(c, `Bearer ${await gtrJwt(c, {}, {}, otherIdp)}`, { sub_id: { format: 'email', email: 'VIC@example.com' } })).status).toBe(204);
    expect(await me()).toBe(401);
  });

  it('an Okta org also speaks for the tenant\'s SAML connections of that org (single sign-on URL on its origin), not others', async () => {
    const c = await crossAppTenant(app, okta);
    const saml = async (issuer: string, ssoUrl: string, sub: string) => {
      const id = newId('idp');
      await c.t.db.idpConnection.create({ data: { id, tenantId: c.t.id, name: sub, kind: 'saml', issuer, config: { saml: { ssoUrl } } } });
      const user = await linkedUser({ ...c, connId: id }, sub);
      const { token } = await app.services.sessions.create(c.t, { userId: user.id });
      return () => fetch(`${c.issuer}/api/me`, { headers: { cookie: `${sessionCookieName(app.url, c.t)}=${token}` } }).then((r) => r.status);
    };
    const sam = await saml('http://www.okta.com/exk1sam', `${okta.issuer}/app/sso-bridge/exk1sam/sso/saml`, 'sam');
    const sue = await saml('https://sts.other.example/', 'https://login.other.example/saml2', 'sue');
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('sue', 'https://sts.other.example/'))).status).toBe(403);
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, { sub_id: { format: 'email', email: 'sue@example.com' } })).status).toBe(404);
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('sam', 'http://www.okta.com/exk1sam'))).status).toBe(204);
    expect([await sam(), await sue()]).toEqual([401, 200]);
  });

  it('a disabled tenant answers 404 and revokes nothing', async () => {
    const c = await crossAppTenant(app, okta);
    const hank = await signedIn(c, 'hank');
    await cli(app, 'tenant disable', { tenant: c.t.slug });
    expect((await revoke(c, `Bearer ${await gtrJwt(c)}`, issSub('hank'))).status).toBe(404);
    await cli(app, 'tenant enable', { tenant: c.t.slug });
    expect([await hank.me(), await hank.mcp()]).toEqual([200, 200]);
  });
});
