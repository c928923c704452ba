import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { Browser, me } from './support/browser.js';
import { startEvilIdp, type Minted } from './support/evil-oidc-idp.js';
import { cli } from './support/sso-fixtures.js';

describe.each(testDbKinds)('OIDC hostile inputs end without a session (%s)', (kind) => {
  let app: TestApp;
  let idp: Awaited<ReturnType<typeof startEvilIdp>>;
  let t: TenantCtx;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = await startEvilIdp();
    t = await app.createTenant();
    await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.state.clientId, 'client-secret': 'evil-secret' });
  });
  afterAll(async () => {
    await idp?.close();
    await app?.close();
  });

  /** Runs the login with the ID token tampered by `tamper`; expects a refusal page with a trace and no session. */
  async function loginWith(tamper: (m: Minted) => Minted, expectedCode = 'token_rejected') {
    idp.state.tamper = tamper;
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    const page = await res.text();
    expect(res.status).toBe(400);
    expect(page).toContain(t.name);
    const traceId = /trc_[0-9a-z]+/.exec(page)![0];
    const trace = await cli(app.services, 'sso-trace show', { id: traceId });
    expect(trace.reason).toMatch(new RegExp(`^${expectedCode}:`));
    expect((await me(b, app.url, t.slug)).status).toBe(401);
    return trace;
  }

  it('control: the untampered token signs in', async () => {
    idp.state.tamper = (m) => m;
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    expect(res.status).toBe(200);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'evil@example.com' });
  });

  it('refuses a nonce mismatch', () => loginWith((m) => ({ ...m, claims: { ...m.claims, nonce: 'another-nonce' } })));
  it('refuses a wrong issuer', () => loginWith((m) => ({ ...m, claims: { ...m.claims, iss: 'https://evil.example.com' } })));
  it('refuses a wrong audience', () => loginWith((m) => ({ ...m, claims: { ...m.claims, aud: 'someone-else' } })));
  it('refuses an extra audience without a matching azp', () => loginWith((m) => ({ ...m, claims: { ...m.claims, aud: [idp.state.clientId, 'other'], azp: 'other' } })));
  it('refuses an expired ID token', () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    return loginWith((m) => ({ ...m, claims: { ...m.claims, iat: past - 300, exp: past } }));
  });
  it('refuses alg none', () => loginWith((m) => ({ ...m, signer: 'none' })));
  it('refuses a token signed by an unknown key (kid in JWKS, wrong key)', () => loginWith((m) => ({ ...m, signer: 'rogue' })));
  it('refuses a token signed by an unknown key (unknown kid)', () => loginWith((m) => ({ ...m, signer: 'rogue', header: { ...m.header, kid: 'rogue-key' } })));

  it('reads the userinfo endpoint when the ID token carries no e-mail', async () => {
    idp.state.sub = 'userinfo-user';
    idp.state.tamper = (m) => ({ ...m, claims: { ...m.claims, email: undefined } });
    idp.state.userinfo = { email: 'From.Userinfo@example.com', name: 'Userinfo Person' };
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    idp.state.userinfo = {};
    idp.state.sub = 'evil-user';
    expect(res.status).toBe(200);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'from.userinfo@example.com' });
  });

  it('leaves memberships alone on an Entra groups overage (_claim_names), a documented gap', async () => {
    idp.state.tamper = (m) => ({ ...m, claims: { ...m.claims, sub: 'overage-user', email: 'over@example.com', _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/…' } } } });
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    expect(res.status).toBe(200);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'over@example.com', groups: [] });
  });

  it('refuses a bad, missing or reused state', async () => {
    idp.state.tamper = (m) => m;
    for (const q of ['?code=x&state=forged-state', '?code=x']) {
      const b = new Browser();
      const res = await b.request(`${app.url}/t/${t.slug}/oidc/callback${q}`);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/expired or was already used/);
      expect((await me(b, app.url, t.slug)).status).toBe(401);
    }
    // A state naming a tenant but not signed by us is refused at the shared callback before any lookup.
    const forged = await new Browser().request(`${app.url}/oidc/callback?code=x&state=${t.id}.${'A'.repeat(43)}.${'B'.repeat(43)}`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).not.toContain(t.name);
    const b = new Browser();
    let callback = '';
    await b.follow(`${app.url}/t/${t.slug}/oidc/login`, {}, (u) => {
      if (u.includes('/oidc/callback')) callback = u;
      return u.includes('/oidc/callback');
    });
    expect(new URL(callback).searchParams.get('state')).toMatch(new RegExp(`^${t.id}\\.[\\w-]{43}\\.[\\w-]{43}$`));
    expect((await b.request(callback)).status).toBe(303);
    const replay = new Browser();
    expect((await replay.request(callback)).status).toBe(400);
    expect((await me(replay, app.url, t.slug)).status).toBe(401);
  });

  it("refuses at tenant B the callback of tenant A's login", async () => {
    idp.state.tamper = (m) => m;
    const other = await app.createTenant();
    await cli(app.services, 'idp add-oidc', { tenant: other.slug, issuer: idp.issuer, 'client-id': idp.state.clientId, 'client-secret': 'evil-secret' });
    const b = new Browser();
    let callback = '';
    await b.follow(`${app.url}/t/${t.slug}/oidc/login`, {}, (u) => {
      if (u.includes('/oidc/callback')) callback = u;
      return u.includes('/oidc/callback');
    });
    const atB = callback.replace(`/t/${t.slug}/`, `/t/${other.slug}/`);
    const res = await b.request(atB);
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain(other.name);
    expect((await me(b, app.url, other.slug)).status).toBe(401);
    // The state was spent by the attempt: it cannot be replayed at tenant A either.
    expect((await b.request(callback)).status).toBe(400);
    expect((await me(b, app.url, t.slug)).status).toBe(401);
  });

  it('refuses a login that was started for the per-tenant callback but returns to the shared one', async () => {
    idp.state.tamper = (m) => m;
    const b = new Browser();
    let callback = '';
    await b.follow(`${app.url}/t/${t.slug}/oidc/login`, {}, (u) => {
      if (u.includes('/oidc/callback')) callback = u;
      return u.includes('/oidc/callback');
    });
    const shared = `${app.url}/oidc/callback${new URL(callback).search}`;
    const res = await b.request(shared);
    expect(res.status).toBe(400);
    expect((await me(b, app.url, t.slug)).status).toBe(401);
  });

  it("a forged state naming another tenant at the shared callback creates nothing of that tenant's (no key, no row)", async () => {
    const other = await app.createTenant();
    const res = await fetch(`${app.url}/oidc/callback?state=${other.id}.bm9uY2U.dGFn&code=x`);
    expect(res.status).toBe(400);
    expect(await other.db.vaultSecret.count({ where: { ownerKind: 'sso-state-key' } })).toBe(0);
  });
});
