import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { crossAppTenant, lastAudit, linkedUser, type CrossAppTenant } from '../oauth/support/cross-app.js';
import { startIdJagIdp, type IdJagIdp } from '../oauth/support/id-jag-idp.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type';

describe.each(testDbKinds)('Shared Signals (CAEP) events pushed by the IdP (%s)', (kind) => {
  let app: TestApp;
  let okta: IdJagIdp;
  beforeAll(async () => {
    app = await startTestApp(kind);
    okta = await startIdJagIdp(() => app.clock.now().getTime());
  });
  afterAll(async () => {
    await okta?.close();
    await app?.close();
  });

  const endpoint = (c: CrossAppTenant) => `${c.issuer}/ssf/events`;
  /** A SET as an SSF transmitter pushes it: typ secevent+jwt, no exp, iat and jti. */
  const set = (c: CrossAppTenant, over: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    okta.idJag({ aud: endpoint(c), exp: undefined, ...over }, { typ: 'secevent+jwt', ...header });
  const sessionRevoked = (sub: string) => ({ sub_id: { format: 'iss_sub', iss: okta.issuer, sub }, events: { [`${CAEP}/session-revoked`]: { event_timestamp: 1 } } });
  const push = async (url: string, body: string) => {
    app.clock.advance(5);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' }, body });
    return { status: res.status, body: res.status === 400 ? ((await res.json()) as Record<string, string>) : await res.text() };
  };
  async function signedIn(c: CrossAppTenant, sub: string) {
    const user = await linkedUser(c, sub);
    const { token } = await app.services.sessions.create(c.t, { userId: user.id });
    return () => fetch(`${c.issuer}/api/me`, { headers: { cookie: `${sessionCookieName(app.url, c.t)}=${token}` } }).then((r) => r.status);
  }

  it('session-revoked (sub_id) and credential-change (event subject, email) end the user’s sessions; 202', async () => {
    const c = await crossAppTenant(app, okta);
    const alice = await signedIn(c, 'alice');
    const bob = await signedIn(c, 'bob');
    expect(await push(endpoint(c), await set(c, sessionRevoked('alice')))).toEqual({ status: 202, body: '' });
    expect([await alice(), await bob()]).toEqual([401, 200]);
    expect(await lastAudit(app, c.t, 'user.revoke')).toMatchObject({ detail: { reason: 'ssf.session-revoked' } });
    const change = { events: { [`${CAEP}/credential-change`]: { subject: { format: 'email', email: 'bob@example.com' }, credential_type: 'password', change_type: 'update' } } };
    expect((await push(endpoint(c), await set(c, change))).status).toBe(202);
    expect(await bob()).toBe(401);
    expect(await lastAudit(app, c.t, 'idp.ssf.event')).toMatchObject({ outcome: 'success', detail: { iss: okta.issuer, subId: { format: 'email' } } });
  });

  it('refuses SETs that are not typed, stale, replayed, misdirected or unsigned; ignores other events; keeps SETs and GTR apart', async () => {
    const c = await crossAppTenant(app, okta);
    const other = await crossAppTenant(app, okta);
    const carol = await signedIn(c, 'carol');
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const replayed = await set(c, sessionRevoked('nobody'));
    expect((await push(endpoint(c), replayed)).status).toBe(202); // unknown subject: delivered, nothing to do
    const cases: [string, string, RegExp][] = [
      ['typ JWT', await set(c, sessionRevoked('carol'), { typ: 'JWT' }), /typ/],
      ['no typ', await set(c, sessionRevoked('carol'), { typ: undefined }), /typ/],
      ['older than ten minutes', await set(c, { ...sessionRevoked('carol'), iat: now - 900 }), /expired/],
      ['replayed jti', replayed, /jti already used/],
      ['aud another tenant', await set(c, { ...sessionRevoked('carol'), aud: `${other.issuer}/ssf/events` }), /aud/],
      ['alg none', `${Buffer.from('{"alg":"none","typ":"secevent+jwt"}').toString('base64url')}.${(await set(c, sessionRevoked('carol'))).split('.')[1]}.`, /alg none/],
      ['empty body', '', /no SET in the body/],
    ];
    for (const [name, body, reason] of cases) {
      const res = await push(endpoint(c), body);
      expect({ name, status: res.status, body: res.body }).toEqual({ name, status: 400, body: { err: 'authentication_failed', description: 'SET not verified' } });
      expect({ name, reason: (await lastAudit(app, c.t, 'idp.ssf.event'))?.detail.reason }).toEqual({ name, reason: expect.stringMatching(reason) });
    }
    // An event we do not act on is acknowledged and changes nothing; a revoking event without a subject is refused.
    expect((await push(endpoint(c), await set(c, { sub_id: sessionRevoked('carol').sub_id, events: { [`${CAEP}/token-claims-change`]: {} } }))).status).toBe(202);
    expect((await push(endpoint(c), await set(c, { events: { [`${CAEP}/session-revoked`]: {} } }))).body).toEqual({ err: 'invalid_request', description: 'SET not usable' });
    expect(await carol()).toBe(200);
    // A SET is not a Global Token Revocation request, nor the reverse.
    const gtr = await fetch(`${c.issuer}/global-token-revocation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await set(c, { ...sessionRevoked('carol'), aud: `${c.issuer}/global-token-revocation` })}` },
      body: JSON.stringify({ sub_id: sessionRevoked('carol').sub_id }),
    });
    expect(gtr.status).toBe(401);
    expect(await carol()).toBe(200);
  });
});
