import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onboardingCommands } from '../../src/onboarding/onboarding-commands.js';
import type { Options } from '../../src/cli/command-table.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from '../sso/support/browser.js';

const HOUR = 3_600_000;

describe.each(testDbKinds)('setup links and sign-up policy (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind, { SIGNUP_POLICY: 'invite-only' });
  }, 120_000);
  afterAll(() => app?.close());

  const run = async (name: string, opts: Options) => (await onboardingCommands.find((c) => c.name === name)!.run(app.services, opts)) as Record<string, string> & { url: string; id: string };
  const policy = (p: 'open' | 'invite-only' | 'approval') => void ((app.services.config as { signupPolicy: string }).signupPolicy = p);
  const link = async (slug: string, ttlHours?: string) => run('tenant setup-link', { tenant: slug, ...(ttlHours && { 'ttl-hours': ttlHours }) });
  /** Opens the link's page in `b` (which binds the form to that browser) and posts it, as a person does. */
  const use = async (b: Browser, url: string, email: string) => {
    const binding = /name="binding" value="([^"]+)"/.exec(await (await b.request(url)).text())?.[1] ?? 'none';
    return b.postForm(url, { email, name: 'Olga Okta', binding });
  };

  it('makes its holder the first admin, signed in, and sends them to the admin console; it works once', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const l = await link(t.slug);
    expect(l.url).toMatch(new RegExp(`^${app.url}/setup/sl_[A-Za-z0-9_-]{43}$`));
    const b = new Browser();
    // GET (mail scanners, previews) shows the page and does not spend the link.
    for (let i = 0; i < 2; i++) {
      const page = await b.request(l.url);
      expect(page.status).toBe(200);
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(await page.text()).toContain(t.name);
    }
    const done = await use(b, l.url, 'Olga@Customer.example');
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/t/${t.slug}/admin`);
    const who = await me(b, app.url, t.slug);
    expect(who).toMatchObject({ status: 200, body: { email: 'olga@customer.example' } });
    const user = await t.db.user.findFirstOrThrow({ where: { email: 'olga@customer.example' } });
    expect(user.isAdmin).toBe(true);
    // Second use, from any browser: refused, nobody else becomes admin.
    const again = await use(new Browser(), l.url, 'eve@attacker.example');
    expect(again.status).toBe(404);
    expect((await new Browser().request(l.url)).status).toBe(404);
    expect(await t.db.user.count({ where: { email: 'eve@attacker.example' } })).toBe(0);
    const row = await t.db.setupLink.findFirstOrThrow({ where: { id: l.id } });
    expect(row).toMatchObject({ usedBy: user.id });
  });

  it('is bound to the browser that opened it: another site posting the form for a visitor signs nobody in (login CSRF)', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const l = await link(t.slug);
    const attacker = new Browser();
    const binding = /name="binding" value="([^"]+)"/.exec(await (await attacker.request(l.url)).text())![1]!;
    // The victim's browser posts (auto-submitted by the attacker's page): no binding cookie, or the attacker's binding.
    for (const form of [{ email: 'eve@attacker.example' }, { email: 'eve@attacker.example', binding }] as Record<string, string>[]) {
      const victim = new Browser();
      expect((await victim.postForm(l.url, form)).status).toBe(400);
      expect((await me(victim, app.url, t.slug)).status).toBe(401);
    }
    // Nothing was spent: the holder still uses it.
    expect(await t.db.user.count()).toBe(0);
    expect((await use(new Browser(), l.url, 'olga@customer.example')).status).toBe(303);
  });

  it('expires (injected clock), and stores only the hash of its token', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const l = await link(t.slug, '2');
    const token = l.url.slice(l.url.lastIndexOf('/') + 1);
    const rows = await app.services.db.setupLink.findMany({ where: { id: l.id } });
    expect(JSON.stringify(rows)).not.toContain(token);
    app.clock.advance(2 * HOUR + 1000);
    try {
      expect((await new Browser().request(l.url)).status).toBe(404);
      expect((await use(new Browser(), l.url, 'late@customer.example')).status).toBe(404);
      expect(await t.db.user.count()).toBe(0);
    } finally {
      app.clock.advance(-(2 * HOUR + 1000));
    }
  });

  it('concurrent submissions of one link make exactly one admin', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const l = await link(t.slug);
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((x) => use(new Browser(), l.url, `${x}@customer.example`)));
    expect(results.filter((r) => r.status === 303)).toHaveLength(1);
    expect(await t.db.user.count({ where: { isAdmin: true } })).toBe(1);
  });

  it('refuses malformed and guessed tokens, a disabled tenant, an e-mail that already has an account, and bad TTLs', { timeout: 60_000 }, async () => {
    for (const p of ['/setup/x', '/setup/sl_' + 'A'.repeat(43), '/setup/' + encodeURIComponent('../t/x'), '/setup/sl_%00']) {
      expect((await new Browser().request(`${app.url}${p}`)).status).toBe(404);
    }
    const t = await app.createTenant();
    await t.db.user.create({ data: { id: `usr_x${Date.now()}`, tenantId: t.id, userName: 'taken@customer.example', userNameKey: 'taken@customer.example', email: 'taken@customer.example' } });
    const l = await link(t.slug);
    const taken = await use(new Browser(), l.url, 'TAKEN@customer.example');
    expect(taken.status).toBe(409);
    // The refusal did not burn the link.
    expect((await use(new Browser(), l.url, 'new-admin@customer.example')).status).toBe(303);
    const off = await app.createTenant();
    const l2 = await link(off.slug);
    await app.services.db.tenant.update({ where: { id: off.id }, data: { status: 'disabled' } });
    expect((await use(new Browser(), l2.url, 'x@customer.example')).status).toBe(404);
    for (const ttl of ['0', '-1', '337', 'abc']) await expect(link(t.slug, ttl)).rejects.toThrow(/ttl-hours/);
  });

  it('a setup link of one tenant never makes an admin of another', { timeout: 60_000 }, async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const l = await link(a.slug);
    const browser = new Browser();
    await use(browser, l.url, 'pair@customer.example');
    expect(await b.db.user.count()).toBe(0);
    expect((await me(browser, app.url, b.slug)).status).toBe(401);
  });

  it('sign-up: invite-only refuses, open creates the tenant and continues at its setup link, approval queues it', { timeout: 60_000 }, async () => {
    policy('invite-only');
    const closed = await new Browser().request(`${app.url}/signup`);
    expect(closed.status).toBe(403);
    expect((await new Browser().postForm(`${app.url}/signup`, { organisation: 'Nope Inc', email: 'a@nope.example', binding: 'x' })).status).toBe(403);
    try {
      policy('open');
      const b = new Browser();
      const form = await (await b.request(`${app.url}/signup`)).text();
      const binding = /name="binding" value="([^"]+)"/.exec(form)![1]!;
      const created = await b.postForm(`${app.url}/signup`, { organisation: 'Open Signup Co', email: 'founder@open.example', binding });
      expect(created.status).toBe(303);
      const setup = new URL(created.headers.get('location')!, app.url).href;
      const done = await use(b, setup, 'founder@open.example');
      expect(done.status).toBe(303);
      const slug = done.headers.get('location')!.split('/')[2]!;
      expect((await me(b, app.url, slug)).body).toMatchObject({ email: 'founder@open.example' });
      // Another site posting the form for a visitor (no binding cookie / wrong binding): refused.
      const csrf = await new Browser().postForm(`${app.url}/signup`, { organisation: 'Forced Co', email: 'v@victim.example', binding });
      expect(csrf.status).toBe(400);

      policy('approval');
      const b2 = new Browser();
      const binding2 = /name="binding" value="([^"]+)"/.exec(await (await b2.request(`${app.url}/signup`)).text())![1]!;
      const queued = await b2.postForm(`${app.url}/signup`, { organisation: 'Queued Ltd', email: 'boss@queued.example', binding: binding2 });
      expect(queued.status).toBe(202);
      const list = (await run('signup list', {})) as unknown as { pending: { slug: string; contact: string }[] };
      const entry = list.pending.find((p) => p.contact === 'boss@queued.example')!;
      expect((await new Browser().request(`${app.url}/t/${entry.slug}/login`)).status).toBe(404);
      const approved = await run('signup approve', { tenant: entry.slug });
      expect(approved.signup).toBe('approved');
      const b3 = new Browser();
      expect((await use(b3, approved.setupLink!, 'boss@queued.example')).status).toBe(303);
      await expect(run('signup approve', { tenant: entry.slug })).rejects.toThrow(/no pending sign-up/);
    } finally {
      policy('invite-only');
    }
  });

  it('sign-up is rate-limited per client network across the window: 429 with Retry-After, no tenant written, open again next window', { timeout: 60_000 }, async () => {
    app.clock.advance(2 * HOUR); // a fresh window, whatever earlier tests counted
    const signUp = async (i: number) => {
      const b = new Browser();
      const binding = /name="binding" value="([^"]+)"/.exec(await (await b.request(`${app.url}/signup`)).text())![1]!;
      return b.postForm(`${app.url}/signup`, { organisation: `Burst ${i} Ltd`, email: `boss${i}@burst.example`, binding });
    };
    const pendingCount = async () => ((await run('signup list', {})) as unknown as { pending: unknown[] }).pending.length;
    try {
      policy('approval');
      for (let i = 0; i < 10; i++) expect((await signUp(i)).status).toBe(202);
      const before = await pendingCount();
      const refused = await signUp(10);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.text()).toMatch(/Too many organisations/);
      expect(await pendingCount()).toBe(before);
      // A malformed form is refused before counting (it writes nothing); the limit still answers 429 for a valid one.
      expect((await new Browser().postForm(`${app.url}/signup`, { organisation: '', email: 'x', binding: 'x' })).status).toBe(400);
      app.clock.advance(HOUR);
      expect((await signUp(11)).status).toBe(202);
    } finally {
      policy('invite-only');
    }
  });
});
