import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateRules } from '../../src/http/rate-limit.js';
import { onboardingCommands } from '../../src/onboarding/onboarding-commands.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from '../sso/support/browser.js';
import { GLOBAL_ADMIN, startFakeEntra } from './support/fake-entra.js';

const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
const CLIENT_SECRET = 'entra-app-secret-0123456789abcdef';

describe.each(testDbKinds)('Entra admin-consent install (%s)', (kind) => {
  let app: TestApp;
  let entra: Awaited<ReturnType<typeof startFakeEntra>>;
  beforeAll(async () => {
    entra = await startFakeEntra({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    app = await startTestApp(kind, { ENTRA_CLIENT_ID: CLIENT_ID, ENTRA_CLIENT_SECRET: CLIENT_SECRET, ENTRA_AUTHORITY_HOST: entra.host, SIGNUP_POLICY: 'open' });
    entra.redirectUri = `${app.url}/onboarding/entra/callback`;
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await entra?.close();
  });

  /** A directory with one account signing in; consent will be granted for it. */
  function directory(account: { wids?: string[]; tid?: string; email?: string } = {}) {
    const tid = randomUUID();
    const dir = entra.addDirectory(tid);
    const sub = `sub-${randomUUID()}`;
    const email = account.email ?? `admin@${tid.slice(0, 8)}.example.com`;
    dir.add({ sub, email, name: 'Ada Admin', wids: account.wids ?? [GLOBAL_ADMIN], ...(account.tid && { tid: account.tid }) });
    entra.consent.tenant = tid;
    entra.consent.error = '';
    return { tid, sub, email, dir };
  }

  const install = (b: Browser, query = '') => b.follow(`${app.url}/onboarding/entra/start${query}`, {}, (u) => new URL(u).pathname.endsWith('/admin'));
  /** A tenant's signed-in admin connects it to a directory: the page on our origin, then its form. */
  async function connectExisting(b: Browser, slug: string) {
    const startUrl = `${app.url}/onboarding/entra/start?tenant=${slug}`;
    const page = await b.request(startUrl);
    expect(page.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const post = await b.postForm(startUrl, { csrf });
    expect(post.status).toBe(303);
    return b.follow(new URL(post.headers.get('location')!, startUrl).href, {}, (u) => new URL(u).pathname.endsWith('/admin'));
  }
  const bindingOf = (tid: string) => app.services.db.tenantBinding.findUnique({ where: { kind_externalId: { kind: 'entra', externalId: tid } }, include: { tenant: true } });

  it('consent then sign-in creates the tenant, its tid-pinned OIDC connection and the admin, signed in', { timeout: 60_000 }, async () => {
    const d = directory();
    const b = new Browser();
    const { url } = await install(b);
    const consentAsk = entra.consentRequests.at(-1)!;
    expect(consentAsk.get('scope')).toBe('https://graph.microsoft.com/.default');
    expect(consentAsk.get('redirect_uri')).toBe(`${app.url}/onboarding/entra/callback`);
    const binding = await bindingOf(d.tid);
    expect(binding?.tenant.status).toBe('active');
    expect(url).toBe(`${app.url}/t/${binding!.tenant.slug}/admin`);
    const conn = await app.services.db.idpConnection.findFirstOrThrow({ where: { tenantId: binding!.tenantId } });
    expect(conn.issuer).toBe(`${entra.host}/${d.tid}/v2.0`);
    expect(conn.config).toMatchObject({ oidc: { clientId: CLIENT_ID, callback: 'shared', requiredClaims: { tid: d.tid } } });
    const admin = await app.services.db.user.findFirstOrThrow({ where: { tenantId: binding!.tenantId } });
    expect(admin).toMatchObject({ email: d.email, isAdmin: true, active: true });
    const who = await me(b, app.url, binding!.tenant.slug);
    expect(who.status).toBe(200);
    expect(who.body.email).toBe(d.email);
  });

  it('a second install of the same directory finds its tenant and makes nobody new an admin', { timeout: 60_000 }, async () => {
    const d = directory();
    await install(new Browser());
    const first = await bindingOf(d.tid);
    const other = `sub-${randomUUID()}`;
    d.dir.add({ sub: other, email: `second@${d.tid.slice(0, 8)}.example.com`, wids: [GLOBAL_ADMIN] });
    const { url } = await install(new Browser());
    expect(url).toBe(`${app.url}/t/${first!.tenant.slug}/admin`);
    expect(await app.services.db.tenantBinding.count({ where: { externalId: d.tid } })).toBe(1);
    const second = await app.services.db.user.findFirstOrThrow({ where: { tenantId: first!.tenantId, email: `second@${d.tid.slice(0, 8)}.example.com` } });
    expect(second.isAdmin).toBe(false);
    expect(await app.services.db.idpConnection.count({ where: { tenantId: first!.tenantId } })).toBe(1);
  });

  it('an install does not bring back the Entra connection the tenant\'s admins removed', { timeout: 60_000 }, async () => {
    const d = directory();
    await install(new Browser());
    const bound = (await bindingOf(d.tid))!;
    await app.services.db.idpConnection.deleteMany({ where: { tenantId: bound.tenantId } });
    d.dir.add({ sub: `sub-${randomUUID()}`, email: `app-admin@${d.tid.slice(0, 8)}.example.com`, wids: [GLOBAL_ADMIN] });
    const { res } = await install(new Browser());
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('switched Microsoft Entra sign-in off');
    expect(await app.services.db.idpConnection.count({ where: { tenantId: bound.tenantId } })).toBe(0);
  });

  it('a declined consent and consent_required get clear pages and create nothing', { timeout: 60_000 }, async () => {
    const before = await app.services.db.tenant.count();
    for (const [error, text] of [['access_denied', 'Consent was declined'], ['consent_required', 'An administrator must grant consent']] as const) {
      directory();
      entra.consent.error = error;
      const { res } = await install(new Browser());
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).toContain(text);
    }
    expect(await app.services.db.tenant.count()).toBe(before);
  });

  it('refuses a replayed callback, a callback in another browser, and a missing or forged state', { timeout: 60_000 }, async () => {
    directory();
    const b = new Browser();
    const { url: callback } = await b.follow(`${app.url}/onboarding/entra/start`, {}, (u) => u.startsWith(`${app.url}/onboarding/entra/callback`));
    // Another browser (the attacker's captured URL in a victim's browser, or the reverse): refused, and the state is spent.
    const stolen = await new Browser().request(callback);
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).toContain('opened in another browser');
    const replay = await b.request(callback);
    expect(replay.status).toBe(400);
    for (const q of ['', '?tenant=' + randomUUID() + '&admin_consent=True', '?state=forged&tenant=' + randomUUID() + '&admin_consent=True']) {
      const res = await b.request(`${app.url}/onboarding/entra/callback${q}`);
      expect(res.status).toBe(400);
    }
  });

  it('binds the tenant only to the tid of the signed ID token: a forged consent tenant or a token of another directory is refused', { timeout: 60_000 }, async () => {
    const victim = directory();
    const attacker = entra.addDirectory(randomUUID());
    void attacker;
    // The consent answer names the victim's directory, but the admin who signs in belongs to another one.
    victim.dir.add({ sub: `sub-${randomUUID()}`, email: 'mallory@evil.example', wids: [GLOBAL_ADMIN], tid: randomUUID() });
    const { res } = await install(new Browser());
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('belongs to another directory');
    expect(await bindingOf(victim.tid)).toBeNull();
  });

  it('refuses a signer without a consent-capable directory role', { timeout: 60_000 }, async () => {
    const d = directory({ wids: ['b79fbf4d-3ef9-4689-8143-76b194e85509'] }); // "Guest User"-like, not an admin role
    const { res } = await install(new Browser());
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Only an administrator');
    expect(await bindingOf(d.tid)).toBeNull();
  });

  it('connecting an existing tenant to a directory already bound to another tenant is refused', { timeout: 60_000 }, async () => {
    const a = directory();
    await install(new Browser());
    const boundA = await bindingOf(a.tid);
    const b = directory();
    const browser = new Browser();
    await install(browser);
    const boundB = await bindingOf(b.tid);
    // B's admin (signed in) starts "connect my tenant", consent comes back for A's directory, signed by A's admin.
    entra.consent.tenant = a.tid;
    a.dir.add({ sub: `sub-${randomUUID()}`, email: `other@${a.tid.slice(0, 8)}.example.com`, wids: [GLOBAL_ADMIN] });
    const { res } = await connectExisting(browser, boundB!.tenant.slug);
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('already connected to another organisation');
    expect((await bindingOf(a.tid))!.tenantId).toBe(boundA!.tenantId);
    // Starting a connect for a tenant without being its admin is refused outright.
    const stranger = await new Browser().request(`${app.url}/onboarding/entra/start?tenant=${boundA!.tenant.slug}`);
    expect(stranger.status).toBe(403);
  });

  it("connecting an existing tenant takes its admin's form on our page: a link or a forged post starts nothing", { timeout: 60_000 }, async () => {
    const first = directory();
    const admin = new Browser();
    await install(admin);
    const tenant = (await bindingOf(first.tid))!.tenant;
    const startUrl = `${app.url}/onboarding/entra/start?tenant=${tenant.slug}`;
    const consents = entra.consentRequests.length;
    // Another site opening the link in the admin's browser gets a page, not a redirect to Microsoft.
    const opened = await admin.request(startUrl);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('location')).toBeNull();
    expect(await opened.text()).toContain(`Connect a Microsoft Entra directory to <strong>${tenant.name}</strong>`);
    // Posts without the page's token, with a forged one, or with the token in another browser: refused.
    for (const csrf of [undefined, 'forged']) {
      const res = await admin.postForm(startUrl, csrf === undefined ? {} : { csrf });
      expect(res.status).toBe(403);
    }
    const token = /name="csrf" value="([^"]+)"/.exec(await (await admin.request(startUrl)).text())![1]!;
    expect((await new Browser().postForm(startUrl, { csrf: token })).status).toBe(403);
    expect(entra.consentRequests.length).toBe(consents);
    // The admin's own submission binds a second directory to the tenant.
    const second = directory();
    const { url } = await connectExisting(admin, tenant.slug);
    expect(url).toBe(`${app.url}/t/${tenant.slug}/admin`);
    expect((await bindingOf(second.tid))!.tenantId).toBe(tenant.id);
  });

  it('under invite-only, a new directory gets the invitation page and no tenant', { timeout: 60_000 }, async () => {
    const config = app.services.config as { signupPolicy: string };
    config.signupPolicy = 'invite-only';
    try {
      const d = directory();
      const { res } = await install(new Browser());
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('by invitation');
      expect(await bindingOf(d.tid)).toBeNull();
    } finally {
      config.signupPolicy = 'open';
    }
  });

  it('under approval, the new tenant waits disabled and the consenting admin is its admin once approved', { timeout: 90_000 }, async () => {
    const config = app.services.config as { signupPolicy: string };
    config.signupPolicy = 'approval';
    try {
      const d = directory();
      const b = new Browser();
      const waiting = (await install(b)).res;
      expect(waiting.status).toBe(202);
      expect(await waiting.text()).toContain('waiting for approval');
      const bound = await bindingOf(d.tid);
      expect(bound!.tenant.status).toBe('disabled');
      const slug = bound!.tenant.slug;
      expect((await new Browser().request(`${app.url}/t/${slug}/login`)).status).toBe(404);
      await onboardingCommands.find((c) => c.name === 'signup approve')!.run(app.services, { tenant: slug });
      const { url } = await install(b);
      expect(url).toBe(`${app.url}/t/${slug}/admin`);
      expect((await me(b, app.url, slug)).body).toMatchObject({ email: d.email });
      const admins = await app.services.db.user.findMany({ where: { tenantId: bound!.tenantId, isAdmin: true }, select: { email: true } });
      expect(admins).toEqual([{ email: d.email }]);
    } finally {
      config.signupPolicy = 'open';
    }
  });

  it('bounds anonymous install starts per client network: over the limit, 429 and no state row', { timeout: 60_000 }, async () => {
    // A fresh window of the limit (fixed windows by the app clock), whatever the tests above started.
    app.clock.advance(rateRules.installStartNet.windowMs);
    const rows = () => app.services.db.onboardingState.count();
    const before = await rows();
    for (let i = 0; i < rateRules.installStartNet.limit; i++) expect((await new Browser().request(`${app.url}/onboarding/entra/start`)).status).toBe(303);
    expect(await rows()).toBe(before + rateRules.installStartNet.limit);
    const over = await new Browser().request(`${app.url}/onboarding/entra/start`);
    expect(over.status).toBe(429);
    expect(await over.text()).toContain('Too many installs');
    expect(await rows()).toBe(before + rateRules.installStartNet.limit);
    app.clock.advance(rateRules.installStartNet.windowMs);
  });
});
