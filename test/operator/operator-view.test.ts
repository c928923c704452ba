import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import type { Options } from '../../src/cli/command-table.js';
import { hashToken } from '../../src/lib/secrets.js';
import { operatorCookieName } from '../../src/operator/operator-session.js';
import { tenantOverview } from '../../src/operator/operator-queries.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser } from '../sso/support/browser.js';
import { signIn } from '../admin/support.js';

const MIN = 60_000;

describe.each(testDbKinds)('operator view (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind, { SIGNUP_POLICY: 'approval' });
  }, 120_000);
  afterAll(() => app?.close());

  const cli = async (name: string, opts: Options = {}) => (await commands.find((c) => c.name === name)!.run(app.services, opts)) as Record<string, string>;
  let n = 0;
  const newToken = async () => (await cli('operator token create', { name: `op-${++n}-${kind}` })) as { id: string; name: string; token: string };
  const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const base = () => `${app.url}/operator`;
  const signInWith = (b: Browser, token: string, headers: Record<string, string> = {}) =>
    b.request(`${base()}/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token }) });
  const act = (b: Browser, name: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    b.request(`${base()}/actions/${name}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
  async function signedIn() {
    const tok = await newToken();
    const b = new Browser();
    expect((await signInWith(b, tok.token)).status).toBe(303);
    const page = await (await b.request(base())).text();
    return { b, tok, csrf: csrfOf(page), page };
  }
  const globalEvents = (action: string) => app.services.db.auditEvent.findMany({ where: { tenantId: null, action }, orderBy: { seq: 'asc' } });

  it('creates a token shown once and stores only its hash; list never shows it', { timeout: 60_000 }, async () => {
    const tok = await newToken();
    expect(tok.token).toMatch(/^sbo_[A-Za-z0-9_-]{43}$/);
    const row = await app.services.db.operatorToken.findUniqueOrThrow({ where: { id: tok.id } });
    expect(row.tokenHash).toBe(hashToken(tok.token));
    expect(JSON.stringify(row)).not.toContain(tok.token);
    const listed = JSON.stringify(await cli('operator token list'));
    expect(listed).toContain(tok.name);
    expect(listed).not.toContain(tok.token);
    expect(listed).not.toContain(row.tokenHash);
    await expect(cli('operator token create', { name: tok.name })).rejects.toThrow(/already exists/);
    await expect(cli('operator token create', { name: '<script>' })).rejects.toThrow();
  });

  it('signs in with a good token: strict cookie, CSP nonce, tenants listed with their counts; audited', { timeout: 60_000 }, async () => {
    const t = await app.createTenant(undefined, 'Acme <Corp>');
    await signIn(app, t);
    await t.db.scimToken.create({ data: { id: `stk_op${kind}`, tenantId: t.id, tokenHash: `h-${kind}`, lastUsedAt: new Date('2026-03-04T05:06:00Z') } });
    const row = (await tenantOverview(app.services)).find((r) => r.id === t.id);
    expect(row).toMatchObject({ slug: t.slug, status: 'active', users: 1, ssoConnections: 0, lastScimCallAt: new Date('2026-03-04T05:06:00Z') });
    const tok = await newToken();
    const b = new Browser();
    const res = await signInWith(b, tok.token);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/operator');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${operatorCookieName(app.url)}=`))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);
    // The session row keeps a hash: the cookie value is nowhere in the database.
    const value = cookie.split(';')[0]!.split('=')[1]!;
    expect(JSON.stringify(await app.services.db.operatorSession.findMany())).not.toContain(value);
    const page = await b.request(base());
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(csp).not.toContain('unsafe-inline');
    const body = await page.text();
    expect(body).toContain(t.slug);
    expect(body).toContain('Acme &lt;Corp&gt;');
    expect(body).toContain('2026-03-04 05:06 UTC');
    expect(body).toContain(tok.name);
    expect(body).not.toContain(tok.token);
    const ev = (await globalEvents('operator.sign-in')).filter((e) => e.actorId === tok.id);
    expect(ev.map((e) => [e.actorKind, e.outcome])).toEqual([['operator', 'success']]);
  });

  it('refuses a bad token, a revoked token, and a cross-site sign-in; revoking ends live sessions', { timeout: 60_000 }, async () => {
    const bad = new Browser();
    for (const t of ['sbo_' + 'A'.repeat(43), 'nope', '']) {
      const res = await signInWith(bad, t);
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('not valid');
    }
    expect(bad.cookies(app.url).size).toBe(0);
    const { b, tok } = await signedIn();
    expect((await signInWith(new Browser(), tok.token, { origin: 'https://evil.example' })).status).toBe(403);
    await cli('operator token revoke', { id: tok.name });
    // The existing session ends at once, and the token no longer signs in.
    expect(await (await b.request(base())).text()).toContain('Operator sign-in');
    expect((await signInWith(new Browser(), tok.token)).status).toBe(401);
    expect((await globalEvents('operator.sign-in')).some((e) => e.outcome === 'failure')).toBe(true);
  });

  it('refuses a state change without the CSRF token or from another origin; runs it with both; audited', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const { b, csrf, tok } = await signedIn();
    expect(csrf).not.toBe('');
    for (const [fields, headers] of [[{ tenant: t.slug }, {}], [{ tenant: t.slug, csrf: 'forged' }, {}], [{ tenant: t.slug, csrf }, { origin: 'https://evil.example' }]] as const) {
      expect((await act(b, 'tenant-disable', fields, headers)).status).toBe(403);
    }
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: t.id } })).status).toBe('active');
    expect((await globalEvents('operator.request.refused')).filter((e) => e.actorId === tok.id)).toHaveLength(3);
    const ok = await act(b, 'tenant-disable', { tenant: t.slug, csrf });
    expect(ok.status).toBe(303);
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: t.id } })).status).toBe('disabled');
    expect((await new Browser().request(`${app.url}/t/${t.slug}/login`)).status).toBe(404);
    expect((await act(b, 'tenant-enable', { tenant: t.slug, csrf })).status).toBe(303);
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: t.id } })).status).toBe('active');
    const ev = await app.services.db.auditEvent.findMany({ where: { tenantId: null, targetId: t.id }, orderBy: { seq: 'asc' } });
    expect(ev.map((e) => [e.action, e.actorKind, e.actorId])).toEqual([['tenant.disable', 'operator', tok.id], ['tenant.enable', 'operator', tok.id]]);
    expect((await act(b, 'no-such-action', { tenant: t.slug, csrf })).status).toBe(404);
    expect((await act(b, 'tenant-disable', { tenant: 'no-such-tenant', csrf })).status).toBe(404);
  });

  it('ends an idle session after 15 minutes (injected clock); sign-out ends it too', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const { b, csrf } = await signedIn();
    app.clock.advance(14 * MIN);
    expect(await (await b.request(base())).text()).toContain('Create setup link');
    app.clock.advance(14 * MIN); // used a moment ago: the deadline slid
    expect(await (await b.request(base())).text()).toContain('Create setup link');
    app.clock.advance(15 * MIN + 1000);
    expect(await (await b.request(base())).text()).toContain('Operator sign-in');
    expect((await act(b, 'tenant-disable', { tenant: t.slug, csrf })).status).toBe(401);
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: t.id } })).status).toBe('active');

    const second = await signedIn();
    expect((await second.b.request(`${base()}/sign-out`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: second.csrf }) })).status).toBe(303);
    expect(await (await second.b.request(base())).text()).toContain('Operator sign-in');
    expect((await act(second.b, 'tenant-disable', { tenant: t.slug, csrf: second.csrf })).status).toBe(401);
  });

  it("refuses a tenant admin's console session", { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const admin = await signIn(app, t, { admin: true });
    const res = await fetch(base(), { headers: { cookie: admin.cookie } });
    expect(await res.text()).toContain('Operator sign-in');
    const post = await fetch(`${base()}/actions/tenant-disable`, {
      method: 'POST',
      headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ tenant: t.slug, csrf: admin.csrf }),
      redirect: 'manual',
    });
    expect(post.status).toBe(401);
    // Even a tenant session token placed in the operator cookie is not an operator session.
    const forged = await fetch(`${base()}/actions/tenant-disable`, {
      method: 'POST',
      headers: { cookie: `${operatorCookieName(app.url)}=${admin.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ tenant: t.slug, csrf: admin.csrf }),
      redirect: 'manual',
    });
    expect(forged.status).toBe(401);
    expect((await app.services.db.tenant.findUniqueOrThrow({ where: { id: t.id } })).status).toBe('active');
  });

  it('creates a setup link shown once, audited in the tenant chain', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const { b, csrf, tok } = await signedIn();
    const res = await act(b, 'setup-link', { tenant: t.slug, csrf });
    expect(res.status).toBe(200);
    const body = await res.text();
    const url = new RegExp(`${app.url}/setup/sl_[A-Za-z0-9_-]{43}`).exec(body)?.[0];
    expect(url).toBeDefined();
    expect((await new Browser().request(url!)).status).toBe(200);
    expect(await (await b.request(base())).text()).not.toContain(url!);
    const ev = await t.db.auditEvent.findMany({ where: { action: 'setup-link.create' } });
    expect(ev.map((e) => [e.actorKind, e.actorId])).toEqual([['operator', tok.id]]);
  });

  it('approves and declines pending sign-ups from the queue; enabling a pending tenant is refused', { timeout: 60_000 }, async () => {
    const pending = async () => {
      const t = await app.createTenant();
      await app.services.db.tenant.update({ where: { id: t.id }, data: { status: 'disabled', settings: { signup: { status: 'pending', source: 'signup', contact: 'it@customer.example' } } } });
      return t;
    };
    const [a, d] = [await pending(), await pending()];
    const { b, csrf } = await signedIn();
    const page = await (await b.request(base())).text();
    expect(page).toContain('Sign-ups awaiting approval');
    expect(page).toContain('it@customer.example');
    expect((await act(b, 'tenant-enable', { tenant: a.slug, csrf })).status).toBe(409);
    const approved = await act(b, 'signup-approve', { tenant: a.slug, csrf });
    expect(approved.status).toBe(200);
    expect(await approved.text()).toMatch(/\/setup\/sl_/);
    expect((await act(b, 'signup-reject', { tenant: d.slug, csrf })).status).toBe(303);
    const rows = await app.services.db.tenant.findMany({ where: { id: { in: [a.id, d.id] } }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.status, (r.settings as { signup: { status: string } }).signup.status])).toEqual([['active', 'approved'], ['disabled', 'rejected']]);
    expect((await act(b, 'signup-reject', { tenant: d.slug, csrf })).status).toBe(409);
  });

  it('rate-limits failed sign-ins per network and deployment-wide, and never refuses a good token for others\' failures', { timeout: 60_000 }, async () => {
    const tok = await newToken();
    const bad = 'sbo_' + 'B'.repeat(43);
    app.clock.advance(10 * MIN); // a fresh window: earlier tests' failures do not count
    try {
      const b = new Browser();
      for (let i = 0; i < 10; i++) expect((await signInWith(b, bad)).status).toBe(401);
      const limited = await signInWith(b, bad);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // From that same network, the right token still signs in.
      expect((await signInWith(new Browser(), tok.token)).status).toBe(303);
      // 100 failures from ten networks (the deployment-wide limit): a failure from an eleventh waits, an operator does not.
      for (let n = 1; n <= 10; n++) for (let i = 0; i < 10; i++) await signInWith(new Browser(), bad, { 'x-forwarded-for': `198.51.100.${n}` });
      expect((await signInWith(new Browser(), bad, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
      expect((await signInWith(new Browser(), tok.token, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(303);
    } finally {
      app.clock.advance(10 * MIN);
    }
  });
});

// A real process loads modules in the CLI's own order (vitest does not): an import cycle between the command table and
// a capability's commands once broke `sso-bridge` at start-up while every in-process test passed.
it('the CLI process starts and lists the operator commands', { timeout: 60_000 }, async () => {
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', '--disable-warning=ExperimentalWarning', 'src/cli/main.ts', 'help'], { cwd: process.cwd() }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
  );
  expect(out).toMatch(/operator token create \[--name NAME\]/);
  expect(out).toMatch(/operator token revoke ID/);
});
