import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { describeIdpError, redactSummary, safeText } from '../../src/sso/traces/redact-trace.js';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { Browser } from './support/browser.js';
import { makeSamlIdp } from './support/saml-idp.js';
import { cli, tenantWithSaml, useAppWithOidcIdp } from './support/sso-fixtures.js';
import type { TestOidcIdp } from './support/oidc-idp.js';

/** Issue 8 §6: traces mask e-mails and subjects everywhere, never keep an IdP's text verbatim, and expire. */
describe('SSO trace redaction (unit)', () => {
  it('masks every e-mail and subject, at any depth, the same way', () => {
    const out = redactSummary({
      nameId: 'okta-00u1abcdef',
      sub: 'Alice.Smith@corp.example',
      nested: { subject: 'x9', values: ['bob@corp.example', 'plain'], note: 'sent for carol@corp.example by the IdP' },
      email: 'a***@corp.example',
    }) as Record<string, unknown>;
    expect(out).toEqual({
      nameId: 'ok***',
      sub: 'A***@corp.example',
      nested: { subject: 'x9***', values: ['b***@corp.example', 'plain'], note: 'sent for c***@corp.example by the IdP' },
      email: 'a***@corp.example',
    });
    expect(JSON.stringify(out)).not.toMatch(/alice|bob@|carol|00u1/i);
  });

  it.each([
    ['newline (log/terminal injection)', 'a\nFAKE: approved', 'a\\u000aFAKE: approved'],
    ['carriage return', 'a\r\x1b[2Jwiped', 'a\\u000d\\u001b[2Jwiped'],
    ['bidi override', 'evil\u202Egnp.exe', 'evil\\u202egnp.exe'],
    ['C1 control', 'x\u0085y', 'x\\u0085y'],
  ])('escapes a %s', (_label, raw, stored) => {
    expect(safeText(raw)).toBe(stored);
  });

  it('bounds strings, arrays and depth', () => {
    expect(safeText('x'.repeat(5000)).length).toBeLessThanOrEqual(301);
    const deep = redactSummary({ a: { b: { c: { d: { e: 'too deep' } } } }, list: Array.from({ length: 500 }, (_, i) => i) }) as Record<string, unknown>;
    expect(JSON.stringify(deep)).not.toContain('too deep');
    expect((deep.list as unknown[]).length).toBe(100);
  });

  it('keeps an IdP error code only in the RFC 6749 character set, and its description bounded and quoted', () => {
    expect(describeIdpError('access_denied', 'User said no')).toBe('access_denied: "User said no"');
    expect(describeIdpError('x"\ny', null)).toBe('invalid_error_code');
    expect(describeIdpError('a'.repeat(65), null)).toBe('invalid_error_code');
    expect(describeIdpError('server_error', `<script>${'z'.repeat(1000)}`).length).toBeLessThan(230);
  });

  it('SSO_TRACE_RETENTION_DAYS defaults to 30 and is validated', () => {
    expect(loadConfig({}).ssoTraceRetentionDays).toBe(30);
    expect(loadConfig({ SSO_TRACE_RETENTION_DAYS: '7' }).ssoTraceRetentionDays).toBe(7);
    for (const bad of ['0', '-1', 'forever', '1.5']) expect(() => loadConfig({ SSO_TRACE_RETENTION_DAYS: bad })).toThrow(/SSO_TRACE_RETENTION_DAYS/);
  });
});

describe.each(testDbKinds)('SSO traces over HTTP (%s)', (kind) => {
  let app: TestApp;
  let idp: TestOidcIdp;
  useAppWithOidcIdp(kind, (a, i) => {
    app = a;
    idp = i;
  });

  it("stores the IdP's error_description bounded, escaped and masked, never verbatim", async () => {
    const t = await app.createTenant();
    await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': idp.clientSecret });
    const b = new Browser();
    const toIdp = await b.request(`${app.url}/t/${t.slug}/oidc/login`);
    const state = new URL(toIdp.headers.get('location')!).searchParams.get('state')!;
    const description = `Hi victim@corp.example\n<script>alert(1)</script>\u202E${'A'.repeat(5000)}`;
    const callback = new URL(`${app.url}/t/${t.slug}/oidc/callback`);
    callback.search = new URLSearchParams({ state, error: 'access_denied', error_description: description }).toString();
    const res = await b.request(callback.href);
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).not.toContain('<script>alert');
    const traceId = /trc_[0-9a-z]+/.exec(page)![0];
    const trace = await cli(app.services, 'sso-trace show', { id: traceId });
    const reason = String(trace.reason);
    expect(reason).toMatch(/^idp_error: access_denied: "Hi v\*\*\*@corp.example\\\\u000a<script>/);
    expect(reason).not.toContain('victim');
    expect(reason).not.toContain('\n');
    expect(reason).not.toContain('\u202E');
    expect(reason.length).toBeLessThan(300);
  });

  it('deletes traces older than the retention period (default 30 days), and only those', async () => {
    const t = await app.createTenant();
    const now = app.clock.now().getTime();
    const day = 86_400_000;
    const make = (id: string, ageDays: number) =>
      t.db.ssoTrace.create({ data: { id, tenantId: t.id, stage: 'user', reason: 'x', createdAt: new Date(now - ageDays * day) } });
    await make(`trc_old_${t.id}`, 31);
    await make(`trc_edge_${t.id}`, 29.9);
    await make(`trc_new_${t.id}`, 1);
    await app.services.db.jobLease.deleteMany({ where: { name: 'sso-trace-retention' } });
    expect(await app.services.jobs.tick('sso-trace-retention')).toBe(true);
    expect((await t.db.ssoTrace.findMany({ orderBy: { id: 'asc' } })).map((r) => r.id)).toEqual([`trc_edge_${t.id}`, `trc_new_${t.id}`]);
  });

  it('stops storing failed logins from a network over its limit: 429 with Retry-After, on the ACS and OIDC callback', async () => {
    const { t } = await tenantWithSaml(app, makeSamlIdp());
    const acs = (ip: string) =>
      fetch(`${app.url}/t/${t.slug}/saml/acs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ SAMLResponse: Buffer.from('<not-saml/>').toString('base64') }).toString(),
      });
    for (let i = 0; i < 30; i++) expect((await acs(`2001:db8:5:6::${i + 1}`)).status).toBe(400);
    expect(await t.db.ssoTrace.count()).toBe(30);
    const limited = await acs('2001:db8:5:6::abcd');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('Too many failed sign-in attempts');
    const callback = await fetch(`${app.url}/t/${t.slug}/oidc/callback?state=x`, { headers: { 'x-forwarded-for': '2001:db8:5:6::1' } });
    expect(callback.status).toBe(429);
    expect(await t.db.ssoTrace.count()).toBe(30);
    // Another network, and the same network at another tenant, still get a trace.
    expect((await acs('198.51.100.1')).status).toBe(400);
    expect(await t.db.ssoTrace.count()).toBe(31);
    const other = await tenantWithSaml(app, makeSamlIdp());
    const elsewhere = await fetch(`${app.url}/t/${other.t.slug}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '2001:db8:5:6::1' },
      body: new URLSearchParams({ SAMLResponse: 'AAAA' }).toString(),
    });
    expect(elsewhere.status).toBe(400);
    expect(await other.t.db.ssoTrace.count()).toBe(1);
  });

  it('a network over its failed-login budget is refused at the ACS and SLO before its XML is read, even a valid response', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp, { jitEnabled: true, allowedDomains: ['example.com'] });
    const post = (path: string, field: string, value: string, ip: string) =>
      fetch(`${app.url}/t/${t.slug}/saml/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ [field]: value }).toString(),
        redirect: 'manual',
      });
    for (let i = 0; i < 30; i++) expect((await post('acs', 'SAMLResponse', 'AAAA', `2001:db8:7:8::${i + 1}`)).status).toBe(400);
    const valid = await idp.response(spMetadata, { nameId: 'late@example.com' });
    const refused = await post('acs', 'SAMLResponse', valid, '2001:db8:7:8::ff');
    expect(refused.status).toBe(429);
    expect(await refused.text()).toContain('Too many failed sign-in attempts');
    expect((await post('slo', 'SAMLRequest', 'AAAA', '2001:db8:7:8::ff')).status).toBe(429);
    const slo = await fetch(`${app.url}/t/${t.slug}/saml/slo?SAMLRequest=AAAA`, { headers: { 'x-forwarded-for': '2001:db8:7:8::ff' } });
    expect(slo.status).toBe(429);
    // From another network the same kind of response is read and accepted (the ACS parks the login: 303).
    expect((await post('acs', 'SAMLResponse', await idp.response(spMetadata, { nameId: 'late@example.com' }), '198.51.100.77')).status).toBe(303);
  });
});
