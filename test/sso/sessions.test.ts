import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { setSessionCookie, sessionCookieName } from '../../src/sessions/session-cookie.js';
import type { Services } from '../../src/services.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import type { TestOidcIdp } from './support/oidc-idp.js';
import { oidcLogin, tenantWithOidc, useAppWithOidcIdp } from './support/sso-fixtures.js';

const MIN = 60_000;

describe.each(testDbKinds)('browser sessions (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    idp = i;
  });

  it('sets an HttpOnly, SameSite=Lax, host-wide cookie (no Secure on plain-http PUBLIC_URL)', async () => {
    const { t } = await tenantWithOidc(app, idp);
    idp.accounts.set('u1', { sub: 'u1', email: 'u1@example.com' });
    idp.nextAccount = 'u1';
    const b = new Browser();
    let setCookie = '';
    let url = `${app.url}/t/${t.slug}/oidc/login`;
    let r = await b.request(url);
    while (r.status >= 300 && r.status < 400) {
      url = new URL(r.headers.get('location')!, url).href;
      r = await b.request(url);
      setCookie ||= r.headers.getSetCookie().find((l) => l.startsWith(`sb_session_${t.id}=`)) ?? '';
    }
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Lax/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/; Secure/);
    expect(setCookie).not.toMatch(/Domain=/i);
  });

  it('uses a __Host- prefixed Secure cookie when PUBLIC_URL is https', () => {
    const lines: string[] = [];
    const res = { append: (_k: string, v: string) => void lines.push(v) } as unknown as Response;
    const s = { config: { publicUrl: 'https://sso.example.com' } } as Services;
    const t = { id: 'ten_x' } as Parameters<typeof setSessionCookie>[1];
    setSessionCookie(s, t, res, 'sbs_token', new Date('2030-01-01T00:00:00Z'));
    expect(sessionCookieName('https://sso.example.com', t)).toBe('__Host-sb_session_ten_x');
    expect(lines[0]).toBe('__Host-sb_session_ten_x=sbs_token; Path=/; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax');
  });

  it('issues a new session id at login (fixation): a planted or earlier cookie is dead afterwards', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const b = new Browser();
    b.cookies(app.url).set(`sb_session_${t.id}`, 'sbs_planted-by-attacker');
    await oidcLogin(app, idp, t, { sub: 'fix', email: 'fix@example.com' }, b);
    const first = b.cookies(app.url).get(`sb_session_${t.id}`)!;
    expect(first).not.toBe('sbs_planted-by-attacker');
    await oidcLogin(app, idp, t, { sub: 'fix', email: 'fix@example.com' }, b);
    const second = b.cookies(app.url).get(`sb_session_${t.id}`)!;
    expect(second).not.toBe(first);
    const stale = new Browser();
    stale.cookies(app.url).set(`sb_session_${t.id}`, first);
    expect((await me(stale, app.url, t.slug)).status).toBe(401);
    expect((await me(b, app.url, t.slug)).status).toBe(200);
  });

  it('ends a session after 30 idle minutes', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const b = await oidcLogin(app, idp, t, { sub: 'idle', email: 'idle@example.com' });
    app.clock.advance(29 * MIN);
    expect((await me(b, app.url, t.slug)).status).toBe(200); // activity slides the idle deadline
    app.clock.advance(29 * MIN);
    expect((await me(b, app.url, t.slug)).status).toBe(200);
    app.clock.advance(31 * MIN);
    expect((await me(b, app.url, t.slug))).toEqual({ status: 401, body: { error: 'unauthorized', message: 'Sign in first' } });
  });

  it('ends an active session at the 12-hour absolute limit', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const b = await oidcLogin(app, idp, t, { sub: 'abs', email: 'abs@example.com' });
    for (let i = 0; i < 35; i++) {
      app.clock.advance(20 * MIN);
      expect((await me(b, app.url, t.slug)).status).toBe(200);
    }
    app.clock.advance(21 * MIN); // 12h01
    expect((await me(b, app.url, t.slug)).status).toBe(401);
  });

  it('logs out only by POST with the CSRF token', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const b = await oidcLogin(app, idp, t, { sub: 'out', email: 'out@example.com', name: 'Out Person' });
    const cookie = b.cookies(app.url).get(`sb_session_${t.id}`)!;
    const page = await (await b.request(`${app.url}/t/${t.slug}/logout`)).text();
    expect(page).toContain(t.name);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;

    const forged = await b.postForm(`${app.url}/t/${t.slug}/logout`, {});
    expect(forged.status).toBe(403);
    const wrong = await b.postForm(`${app.url}/t/${t.slug}/logout`, { csrf: 'x'.repeat(43) });
    expect(wrong.status).toBe(403);
    expect((await me(b, app.url, t.slug)).status).toBe(200);

    const ok = await b.postForm(`${app.url}/t/${t.slug}/logout`, { csrf });
    // Our session ends here; the browser then continues to the IdP's end_session_endpoint (RP-initiated logout).
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')!.startsWith(idp.issuer)).toBe(true);
    expect(ok.headers.getSetCookie().join()).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await me(b, app.url, t.slug)).status).toBe(401);
    const replay = new Browser();
    replay.cookies(app.url).set(`sb_session_${t.id}`, cookie);
    expect((await me(replay, app.url, t.slug)).status).toBe(401);
  });

  it('ends sessions at once when the user is revoked (SCIM deactivation), and refuses the inactive user at login', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const b = await oidcLogin(app, idp, t, { sub: 'rev', email: 'rev@example.com' });
    const { body } = await me(b, app.url, t.slug);
    await t.db.user.updateMany({ where: { id: String(body.id) }, data: { active: false } });
    await app.services.revocation.revokeUser(t, String(body.id), 'scim.deactivate' as never);
    expect((await me(b, app.url, t.slug)).status).toBe(401);
    app.clock.advance(1000);
    idp.nextAccount = 'rev';
    const { res } = await b.follow(`${app.url}/t/${t.slug}/login`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('deactivated');
    expect((await me(b, app.url, t.slug)).status).toBe(401);
  });

  it('keeps tenants apart: a session of tenant A is not a session at tenant B', async () => {
    const { t: a } = await tenantWithOidc(app, idp);
    const { t: bT } = await tenantWithOidc(app, idp);
    const b = await oidcLogin(app, idp, a, { sub: 'cross', email: 'cross@example.com' });
    const token = b.cookies(app.url).get(`sb_session_${a.id}`)!;
    b.cookies(app.url).set(`sb_session_${bT.id}`, token);
    expect((await me(b, app.url, bT.slug)).status).toBe(401);
    expect((await me(b, app.url, a.slug)).status).toBe(200);
  });
});
