import { randomBytes } from 'node:crypto';
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { obtainTokens, tokenRequest } from '../oauth/support/oauth-client.js';
import { me } from './support/browser.js';
import type { TestOidcIdp } from './support/oidc-idp.js';
import { foundationCommands } from '../../src/cli/command-table.js';
import { oidcLogin, tenantWithOidc, useAppWithOidcIdp } from './support/sso-fixtures.js';

const EVENT = { 'http://schemas.openid.net/event/backchannel-logout': {} };

describe.each(testDbKinds)('OIDC back-channel logout (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    idp = i;
  });
  beforeEach(() => app.clock.set(new Date()));

  /** A logout token as the IdP mints it (its own signing key), with overrides for hostile variants. */
  async function logoutToken(claims: JWTPayload & { sub?: string }, o: { key?: CryptoKey | Uint8Array; alg?: string; typ?: string; omit?: string[] } = {}) {
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const body: JWTPayload = { iss: idp.issuer, aud: idp.clientId, iat: now, jti: randomBytes(8).toString('hex'), events: EVENT, ...claims };
    for (const k of o.omit ?? []) delete body[k];
    const key = o.key ?? (await importJWK(idp.signingJwk as never, 'RS256'));
    return new SignJWT(body).setProtectedHeader({ alg: o.alg ?? 'RS256', kid: String(idp.signingJwk.kid), typ: o.typ ?? 'logout+jwt' }).sign(key);
  }
  const post = async (t: TenantCtx, token: string) => {
    const res = await fetch(`${app.url}/t/${t.slug}/oidc/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) });
    return { status: res.status, body: res.status === 200 ? null : ((await res.json()) as Record<string, string>), cache: res.headers.get('cache-control') };
  };
  const signedIn = async (t: TenantCtx, sub: string) => oidcLogin(app, idp, t, { sub, email: `${sub}@example.com` });
  const alive = async (t: TenantCtx, b: Awaited<ReturnType<typeof signedIn>>) => (await me(b, app.url, t.slug)).status === 200;

  it('a valid logout token ends that subject’s sessions of this connection, nobody else’s, in this tenant only', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const other = await tenantWithOidc(app, idp); // the same IdP and subject in another tenant
    const sub = `u${randomBytes(4).toString('hex')}`;
    const [mine, mine2, colleague, otherTenant] = [await signedIn(t, sub), await signedIn(t, sub), await signedIn(t, `${sub}x`), await signedIn(other.t, sub)];
    const res = await post(t, await logoutToken({ sub }));
    expect(res).toMatchObject({ status: 200, cache: 'no-store' });
    expect(await alive(t, mine)).toBe(false);
    expect(await alive(t, mine2)).toBe(false);
    expect(await alive(t, colleague)).toBe(true);
    expect(await alive(other.t, otherTenant)).toBe(true);
  });

  it('refuses hostile logout tokens with 400 and leaves the session alone', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const sub = `u${randomBytes(4).toString('hex')}`;
    const b = await signedIn(t, sub);
    const rogue = (await generateKeyPair('RS256')).privateKey;
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const hostile: [string, Promise<string> | string][] = [
      ['wrong audience', logoutToken({ sub, aud: 'another-client' })],
      ['unknown issuer', logoutToken({ sub, iss: 'https://evil.example.com' })],
      ['signed by another key with the IdP kid', logoutToken({ sub }, { key: rogue })],
      ['HMAC with a guessable secret', logoutToken({ sub }, { key: new TextEncoder().encode(idp.clientSecret), alg: 'HS256' })],
      ['alg none', `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: idp.issuer, aud: idp.clientId, iat: now, jti: 'n1', events: EVENT, sub })).toString('base64url')}.`],
      ['no events claim', logoutToken({ sub }, { omit: ['events'] })],
      ['another event', logoutToken({ sub, events: { 'http://schemas.openid.net/event/other': {} } })],
      ['an ID token (nonce)', logoutToken({ sub, nonce: 'n' })],
      ['neither sub nor sid', logoutToken({})],
      ['no jti', logoutToken({ sub }, { omit: ['jti'] })],
      ['no iat', logoutToken({ sub }, { omit: ['iat'] })],
      ['issued 10 minutes ago', logoutToken({ sub, iat: now - 600 })],
      ['issued in the future', logoutToken({ sub, iat: now + 600 })],
      ['expired (exp passed)', logoutToken({ sub, exp: now - 120 })],
      ['an audience list without us', logoutToken({ sub, aud: ['another-client', 'a-third'] })],
      ['sid not a string', logoutToken({ sid: 42 as unknown as string })],
      ['an access token typ', logoutToken({ sub }, { typ: 'at+jwt' })],
      ['not a JWT', 'garbage'],
      ['empty', ''],
    ];
    for (const [label, token] of hostile) {
      const res = await post(t, await token);
      expect(res.status, label).toBe(400);
      expect(res.body?.error, label).toBe('invalid_request');
      // The description names the failed check at most: never the library's text, which may quote the token.
      expect(res.body?.error_description, label).not.toMatch(/another-client|evil\.example|"|expected/);
    }
    expect(await alive(t, b)).toBe(true);
    const rejected = await post(t, await logoutToken({ sub, aud: 'another-client' }));
    expect(rejected.body?.error_description).toBe('logout_token rejected (ERR_JWT_CLAIM_VALIDATION_FAILED)');
  });

  it('accepts an audience list that names us among others (BCL 1.0 §2.4: aud may be an array)', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const sub = `u${randomBytes(4).toString('hex')}`;
    const b = await signedIn(t, sub);
    expect((await post(t, await logoutToken({ sub, aud: ['another-client', idp.clientId] }))).status).toBe(200);
    expect(await alive(t, b)).toBe(false);
  });

  it('a logout token is single-use (jti), across the whole tenant', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const sub = `u${randomBytes(4).toString('hex')}`;
    const token = await logoutToken({ sub });
    expect((await post(t, token)).status).toBe(200);
    const b = await signedIn(t, sub);
    const replay = await post(t, token);
    expect(replay.status).toBe(400);
    expect(replay.body?.error_description).toMatch(/already used/);
    expect(await alive(t, b)).toBe(true);
  });

  it('with a sid, ends only sessions of that IdP session', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const sub = `u${randomBytes(4).toString('hex')}`;
    const b = await signedIn(t, sub);
    expect((await post(t, await logoutToken({ sub, sid: 'another-idp-session' }))).status).toBe(200);
    expect(await alive(t, b)).toBe(true);
  });

  it('a session recorded without a sid matches no sid, not even the string "undefined" (sid alone or with sub)', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const sub = `u${randomBytes(4).toString('hex')}`;
    const b = await signedIn(t, sub); // this IdP's ID tokens carry no sid
    const user = await t.db.user.findFirstOrThrow({ where: { email: `${sub}@example.com` } });
    const session = await t.db.session.findFirstOrThrow({ where: { userId: user.id, revokedAt: null } });
    expect((session.data as Record<string, unknown>).idpSession).toBeUndefined();
    for (const claims of [{ sid: 'undefined' }, { sub, sid: 'undefined' }, { sid: 'null' }, { sid: '' }]) {
      const res = await post(t, await logoutToken(claims));
      expect(res.status, JSON.stringify(claims)).toBe(claims.sid === '' ? 400 : 200);
      expect(await alive(t, b), JSON.stringify(claims)).toBe(true);
    }
    // The subject alone still ends it.
    expect((await post(t, await logoutToken({ sub }))).status).toBe(200);
    expect(await alive(t, b)).toBe(false);
  });

  it('MCP grants survive an IdP logout by default, and are revoked with --idp-logout-revokes-grants on', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const refreshWorks = async (tokens: { client: { client_id: string }; tokens: { body: Record<string, string> } }) =>
      (await tokenRequest(app, t, { grant_type: 'refresh_token', refresh_token: tokens.tokens.body.refresh_token!, client_id: tokens.client.client_id })).status === 200;

    const sub = `u${randomBytes(4).toString('hex')}`;
    await signedIn(t, sub);
    const user = await t.db.user.findFirstOrThrow({ where: { email: `${sub}@example.com` } });
    const grant = await obtainTokens(app, t, user.id);
    expect((await post(t, await logoutToken({ sub }))).status).toBe(200);
    expect(await refreshWorks(grant)).toBe(true);

    const settingsCommand = foundationCommands.find((c) => c.name === 'tenant settings')!;
    const settings = (await settingsCommand.run(app.services, { tenant: t.slug, 'idp-logout-revokes-grants': 'on' })) as { settings: Record<string, unknown> };
    expect(settings.settings.idpLogoutRevokesGrants).toBe(true);
    const grant2 = await obtainTokens(app, t, user.id);
    const b = await signedIn(t, sub);
    expect((await post(t, await logoutToken({ sub }))).status).toBe(200);
    expect(await refreshWorks(grant2)).toBe(false);
    expect(await alive(t, b)).toBe(false);
  });

  it('RP-initiated logout: our sign-out continues to the IdP end_session_endpoint with our client_id', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const b = await signedIn(t, `u${randomBytes(4).toString('hex')}`);
    const page = await (await b.request(`${app.url}/t/${t.slug}/logout`)).text();
    const res = await b.postForm(`${app.url}/t/${t.slug}/logout`, { csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]! });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get('client_id')).toBe(idp.clientId);
    expect(to.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/t/${t.slug}/logout`);
    expect(await alive(t, b)).toBe(false);
  });

  it('RP-initiated logout names the sign-in it ends (id_token_hint, which Okta requires); the stored ID token goes with the session', async () => {
    const { t } = await tenantWithOidc(app, idp);
    const sub = `u${randomBytes(4).toString('hex')}`;
    const b = await signedIn(t, sub);
    const user = await t.db.user.findFirstOrThrow({ where: { email: `${sub}@example.com` } });
    // Kept encrypted in the vault, never in the session row.
    expect(await t.db.vaultSecret.count({ where: { ownerKind: 'oidc-id-token', userId: user.id } })).toBe(1);
    const session = await t.db.session.findFirstOrThrow({ where: { userId: user.id, revokedAt: null } });
    expect(JSON.stringify(session.data)).not.toMatch(/eyJ/);
    const page = await (await b.request(`${app.url}/t/${t.slug}/logout`)).text();
    const res = await b.postForm(`${app.url}/t/${t.slug}/logout`, { csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]! });
    const to = new URL(res.headers.get('location')!);
    const hint = to.searchParams.get('id_token_hint')!;
    expect(decodeJwt(hint)).toMatchObject({ iss: idp.issuer, aud: idp.clientId, sub });
    expect(await t.db.vaultSecret.count({ where: { ownerKind: 'oidc-id-token', userId: user.id } })).toBe(0);
    // The IdP (oidc-provider) accepts the request: its sign-out confirmation page, not an error.
    const atIdp = await fetch(to, { redirect: 'manual' });
    expect(atIdp.status, await atIdp.clone().text()).toBe(200);
    expect(await atIdp.text()).not.toMatch(/invalid_request|error/i);
  });
});
