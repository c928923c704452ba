import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onboardingCommands } from '../../src/onboarding/onboarding-commands.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { GoogleFake } from '../connectors/support/google-fake.js';
import { Browser, me } from '../sso/support/browser.js';
import { startFakeEntra } from './support/fake-entra.js';

const CLIENT_ID = 'google-oauth-client.apps.example';
const CLIENT_SECRET = 'google-oauth-secret-0123456789';
const APP_ID = '123456789012';

describe.each(testDbKinds)('Google Workspace Marketplace install (%s)', (kind) => {
  let app: TestApp;
  let idp: Awaited<ReturnType<typeof startFakeEntra>>;
  let google: GoogleFake;
  let accounts: ReturnType<Awaited<ReturnType<typeof startFakeEntra>>['addDirectory']>;
  const directory = new Map<string, { customerId: string; isAdmin: boolean }>();
  const licences = new Map<string, string>();

  beforeAll(async () => {
    // Google's OIDC issuer (a real OpenID provider whose ID tokens carry hd) and Google's APIs (token endpoint, Directory, Apps Marketplace).
    idp = await startFakeEntra({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    google = await new GoogleFake(() => new Date()).start();
    google.routes.push(
      { method: 'GET', path: /^\/admin\/directory\/v1\/users\/([^/]+)$/, run: ({ params }) => { const u = directory.get(params[0]!); return u ? { status: 200, body: { primaryEmail: params[0], ...u } } : null; } },
      { method: 'GET', path: /^\/appsmarket\/v2\/customerLicense\/([^/]+)\/([^/]+)$/, run: ({ params }) => (params[0] === APP_ID && licences.has(params[1]!) ? { status: 200, body: { kind: 'appsmarket#customerLicense', applicationId: APP_ID, customerId: params[1], state: licences.get(params[1]!) } } : null) },
    );
    app = await startTestApp(kind, { GOOGLE_OAUTH_CLIENT_ID: CLIENT_ID, GOOGLE_OAUTH_CLIENT_SECRET: CLIENT_SECRET, GOOGLE_ISSUER: `${idp.host}/google/v2.0`, GOOGLE_MARKETPLACE_APP_ID: APP_ID, GOOGLE_API_ROOT: `${google.url}/`, SIGNUP_POLICY: 'open' });
    accounts = idp.addDirectory('google', `${app.url}/onboarding/google/callback`);
    const sa = google.serviceAccount('marketplace-publisher');
    await onboardingCommands.find((c) => c.name === 'marketplace set-service-account')!.run(app.services, { key: sa.keyFile });
    google.users.add(sa.clientEmail);
    // The Marketplace install grants the listed scopes domain-wide (here: for every domain of the fake).
    google.delegate(sa.clientId, [...allGoogleScopes(), 'https://www.googleapis.com/auth/appsmarketplace.license']);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await idp?.close();
    await google?.close();
  });

  /** A Workspace domain with one user signing in next. */
  function domain(o: { isAdmin?: boolean; licence?: string | null; installed?: boolean; hd?: string | null } = {}) {
    const hd = `d${randomUUID().slice(0, 8)}.example`;
    const customerId = `C0${randomUUID().slice(0, 6)}`;
    const email = `admin@${hd}`;
    if (o.installed !== false) google.users.add(email);
    directory.set(email, { customerId, isAdmin: o.isAdmin ?? true });
    if (o.licence !== null) licences.set(customerId, o.licence ?? 'ACTIVE');
    accounts.add({ sub: `g-${randomUUID()}`, email, ...(o.hd !== null && { hd }) });
    return { hd, customerId, email };
  }
  const launch = (b = new Browser()) => b.follow(`${app.url}/onboarding/google/launch`, {}, (u) => new URL(u).pathname.endsWith('/admin'));
  const bindingOf = (customerId: string) => app.services.db.tenantBinding.findUnique({ where: { kind_externalId: { kind: 'google', externalId: customerId } }, include: { tenant: true } });

  it('a super admin’s first sign-in creates the tenant, its Google connection and a connector on the publisher key; a lost licence disables it', { timeout: 60_000 }, async () => {
    const d = domain();
    const b = new Browser();
    const { url } = await launch(b);
    const bound = await bindingOf(d.customerId);
    expect(url).toBe(`${app.url}/t/${bound!.tenant.slug}/admin`);
    expect(bound).toMatchObject({ domain: d.hd, status: 'active' });
    const conn = await app.services.db.idpConnection.findFirstOrThrow({ where: { tenantId: bound!.tenantId } });
    expect(conn.config).toMatchObject({ allowedDomains: [d.hd], oidc: { callback: 'shared', requiredClaims: { hd: d.hd } } });
    const connector = await app.services.db.connector.findFirstOrThrow({ where: { tenantId: bound!.tenantId } });
    expect(connector.secretId).toBeNull();
    expect(connector.config).toMatchObject({ keySource: 'publisher', customerId: d.customerId, domains: [d.hd] });
    expect((await me(b, app.url, bound!.tenant.slug)).body).toMatchObject({ email: d.email });
    expect(await app.services.db.user.findFirstOrThrow({ where: { tenantId: bound!.tenantId } })).toMatchObject({ isAdmin: true });
    // A second sign-in from the domain finds the same tenant.
    expect((await launch()).url).toBe(url);
    // Uninstall / licence lost: the licence check disables the tenant.
    licences.set(d.customerId, 'UNLICENSED');
    const report = (await onboardingCommands.find((c) => c.name === 'marketplace check-licenses')!.run(app.services, {})) as { disabled: string[] };
    expect(report.disabled).toContain(bound!.tenant.slug);
    expect((await bindingOf(d.customerId))).toMatchObject({ status: 'unlicensed', tenant: { status: 'disabled' } });
    expect((await new Browser().request(`${app.url}/t/${bound!.tenant.slug}/login`)).status).toBe(404);
  });

  it('refuses a first sign-in by a non-admin, a domain without the install or licence, and a consumer account', { timeout: 60_000 }, async () => {
    const cases: [Parameters<typeof domain>[0], string][] = [
      [{ isAdmin: false }, 'Only an administrator'],
      [{ installed: false }, 'has not installed the app'],
      [{ licence: 'UNLICENSED' }, 'has not installed the app'],
      [{ licence: null }, 'has not installed the app'],
      [{ hd: null }, 'Google Workspace account'],
    ];
    for (const [o, text] of cases) {
      const d = domain(o);
      const { res } = await launch();
      expect(res.status, text).toBe(403);
      expect(await res.text()).toContain(text);
      expect(await bindingOf(d.customerId)).toBeNull();
    }
  });

  it('under invite-only a new domain gets the invitation page; under approval its tenant waits disabled, with the installer as admin once approved', { timeout: 90_000 }, async () => {
    const config = app.services.config as { signupPolicy: string };
    try {
      config.signupPolicy = 'invite-only';
      const closed = domain();
      const refused = (await launch()).res;
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('by invitation');
      expect(await bindingOf(closed.customerId)).toBeNull();

      config.signupPolicy = 'approval';
      const d = domain();
      const b = new Browser();
      const waiting = (await launch(b)).res;
      expect(waiting.status).toBe(202);
      expect(await waiting.text()).toContain('waiting for approval');
      const bound = await bindingOf(d.customerId);
      expect(bound!.tenant.status).toBe('disabled');
      const slug = bound!.tenant.slug;
      expect((await new Browser().request(`${app.url}/t/${slug}/login`)).status).toBe(404);
      // Launching again before the approval changes nothing.
      expect((await launch(b)).res.status).toBe(403);
      await onboardingCommands.find((c) => c.name === 'signup approve')!.run(app.services, { tenant: slug });
      const { url } = await launch(b);
      expect(url).toBe(`${app.url}/t/${slug}/admin`);
      expect((await me(b, app.url, slug)).body).toMatchObject({ email: d.email });
      const admins = await app.services.db.user.findMany({ where: { tenantId: bound!.tenantId, isAdmin: true }, select: { email: true } });
      expect(admins).toEqual([{ email: d.email }]);
    } finally {
      config.signupPolicy = 'open';
    }
  });

  it('refuses a replayed callback and one opened in another browser', { timeout: 60_000 }, async () => {
    domain();
    const b = new Browser();
    const { url: callback } = await b.follow(`${app.url}/onboarding/google/launch`, {}, (u) => u.startsWith(`${app.url}/onboarding/google/callback`));
    expect((await new Browser().request(callback)).status).toBe(400);
    expect((await b.request(callback)).status).toBe(400);
  });
});
