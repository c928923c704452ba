import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { Browser, me } from './support/browser.js';
import { keyPair, makeSamlIdp, RSA_SHA1, type TestSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, startSpInitiated, tenantWithSaml } from './support/sso-fixtures.js';

const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const xmlOf = (response: string) => Buffer.from(response, 'base64').toString('utf8');
const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

describe.each(testDbKinds)('SAML hostile inputs end without a session (%s)', (kind) => {
  let app: TestApp;
  let idp: TestSamlIdp;
  let t: TenantCtx;
  let sp: string;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = makeSamlIdp();
    ({ t, spMetadata: sp } = await tenantWithSaml(app, idp));
  });
  afterAll(() => app?.close());

  /** Posts an (IdP-initiated) response with a fresh browser; expects a refusal with a trace and no session. */
  async function refused(response: string, code?: string, browser = new Browser()) {
    const res = await postToAcs(app, t, browser, response);
    const page = await res.text();
    expect(res.status).toBe(400);
    expect(page).toContain(t.name);
    const traceId = /trc_[0-9a-z]+/.exec(page)?.[0];
    expect(traceId).toBeTruthy();
    const trace = await cli(app.services, 'sso-trace show', { id: traceId! });
    if (code) expect(trace.reason).toMatch(new RegExp(`^${code}:`));
    expect(JSON.stringify(trace.summary)).not.toMatch(/SignatureValue|BEGIN/);
    expect((await me(browser, app.url, t.slug)).status).toBe(401);
    expect(res.headers.getSetCookie().join()).not.toContain(`sb_session_${t.id}=sbs_`);
    return trace;
  }

  const valid = (o: Parameters<TestSamlIdp['response']>[1] = { nameId: 'mallory@example.com' }) => idp.response(sp, o);

  it('control: the untampered response is accepted', async () => {
    const res = await postToAcs(app, t, new Browser(), await valid());
    expect(res.status).toBe(303);
  });

  it('refuses an unsigned assertion', async () => {
    const xml = xmlOf(await valid()).replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
    const trace = await refused(b64(xml), 'refused');
    expect(trace.reason).toContain('no signature');
  });

  it('refuses a response without a signature algorithm', async () => {
    const xml = xmlOf(await valid()).replace(/<ds:SignatureMethod[^>]*\/>/, '<ds:SignatureMethod/>');
    await refused(b64(xml), 'refused');
  });

  it('refuses SHA-1 signatures', async () => {
    const trace = await refused(await valid({ nameId: 'mallory@example.com', signatureAlgorithm: RSA_SHA1 }), 'refused');
    expect(trace.reason).toContain('SHA-256 or better');
  });

  it('refuses a signature by a certificate that is not in the IdP metadata', async () => {
    await refused(await valid({ nameId: 'mallory@example.com', signWith: keyPair('Rogue') }), 'invalid_response');
  });

  it('refuses signature wrapping: signed assertion moved, evil assertion in its place', async () => {
    const xml = xmlOf(await valid());
    const signed = ASSERTION.exec(xml)![0];
    const evil = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '').replace('mallory@example.com', 'admin@example.com').replace(/ID="[^"]+"/, 'ID="_evil"');
    const wrapped = xml.replace(signed, evil.replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">${signed}</samlp:Extensions>`));
    await refused(b64(wrapped), 'invalid_response');
  });

  it('refuses signature wrapping: a second, unsigned assertion next to the signed one', async () => {
    const xml = xmlOf(await valid());
    const signed = ASSERTION.exec(xml)![0];
    const evil = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '').replace('mallory@example.com', 'admin@example.com').replace(/ID="[^"]+"/, 'ID="_evil2"');
    await refused(b64(xml.replace(signed, `${evil}${signed}`)), 'invalid_response');
    await refused(b64(xml.replace(signed, `${signed}${evil}`)), 'invalid_response');
  });

  it('refuses signature wrapping: the signed element referenced by its ID from elsewhere', async () => {
    const xml = xmlOf(await valid());
    const signed = ASSERTION.exec(xml)![0];
    const id = /ID="([^"]+)"/.exec(signed)![1]!;
    // Evil assertion carries the signed one's ID and Signature; the genuine signed assertion hides in Extensions.
    const evil = signed.replace('mallory@example.com', 'admin@example.com');
    const hidden = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '');
    const wrapped = xml.replace(signed, evil).replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions>${hidden}</samlp:Extensions>`);
    expect(wrapped.split(`ID="${id}"`).length).toBe(3);
    await refused(b64(wrapped), 'invalid_response');
  });

  it('refuses comment injection inside NameID and the e-mail attribute', async () => {
    await t.db.user.create({ data: { id: 'usr_victim_' + t.id.slice(4, 12), tenantId: t.id, userName: 'boss@example.com', userNameKey: 'boss@example.com', email: 'boss@example.com' } });
    const xml = xmlOf(await valid({ nameId: 'boss@example.com.evil.test', attributes: { email: ['boss@example.com.evil.test'] } }));
    const injected = xml.replace(/boss@example\.com\.evil\.test/g, 'boss@example.com<!---->.evil.test');
    const trace = await refused(b64(injected), 'refused');
    expect(trace.reason).toContain('comment');
  });

  it('refuses a wrong audience', async () => {
    await refused(await valid({ nameId: 'mallory@example.com', values: { Audience: 'https://other-sp.example.com/metadata' } }), 'invalid_response');
  });

  it('refuses a wrong Destination and a wrong Recipient', async () => {
    await refused(await valid({ nameId: 'mallory@example.com', values: { Destination: 'https://evil.example.com/acs' } }), 'wrong_destination');
    await refused(await valid({ nameId: 'mallory@example.com', values: { SubjectRecipient: 'https://evil.example.com/acs' } }), 'wrong_recipient');
  });

  it('refuses expired and not-yet-valid assertions (beyond 2 minutes of skew) and accepts within the skew', async () => {
    const expired = { ConditionsNotBefore: iso(-20 * 60_000), ConditionsNotOnOrAfter: iso(-5 * 60_000), SubjectConfirmationDataNotOnOrAfter: iso(-5 * 60_000), IssueInstant: iso(-20 * 60_000) };
    await refused(await valid({ nameId: 'mallory@example.com', values: expired }), 'invalid_response');
    await refused(await valid({ nameId: 'mallory@example.com', values: { ConditionsNotBefore: iso(5 * 60_000) } }), 'invalid_response');
    const justExpired = { ConditionsNotOnOrAfter: iso(-60_000), SubjectConfirmationDataNotOnOrAfter: iso(-60_000) };
    expect((await postToAcs(app, t, new Browser(), await valid({ nameId: 'mallory@example.com', values: justExpired }))).status).toBe(303);
  });

  it('refuses a replayed response (IdP-initiated: assertion-ID cache; SP-initiated: InResponseTo used once)', async () => {
    const response = await valid();
    expect((await postToAcs(app, t, new Browser(), response)).status).toBe(303);
    const trace = await refused(response, 'replayed');
    expect(trace.summary).toMatchObject({ protocol: 'saml', issuer: idp.entityId });

    const b = new Browser();
    const req = await startSpInitiated(app, t, b);
    const sp1 = await idp.response(sp, { nameId: 'mallory@example.com', inResponseTo: req.id });
    expect((await postToAcs(app, t, b, sp1)).status).toBe(303);
    const second = await idp.response(sp, { nameId: 'mallory@example.com', inResponseTo: req.id });
    await refused(second, 'invalid_response');
  });

  it('refuses an InResponseTo of another request (unknown, or another tenant’s)', async () => {
    await refused(await valid({ nameId: 'mallory@example.com', inResponseTo: '_not-a-request-we-sent' }), 'invalid_response');
    const other = await tenantWithSaml(app, idp);
    const req = await startSpInitiated(app, other.t, new Browser());
    await refused(await valid({ nameId: 'mallory@example.com', inResponseTo: req.id }), 'invalid_response');
  });

  it('refuses an SP-initiated response whose unsigned Response dropped the InResponseTo of the signed assertion', async () => {
    const req = await startSpInitiated(app, t, new Browser());
    const xml = xmlOf(await valid({ nameId: 'mallory@example.com', inResponseTo: req.id }));
    const stripped = xml.replace(/(<samlp:Response[^>]*?) InResponseTo="[^"]*"/, '$1');
    expect(stripped).not.toBe(xml);
    await refused(b64(stripped), 'bad_in_response_to');
  });

  it('answers a missing, garbage or oversized SAMLResponse with a page, never a 500', async () => {
    const b = new Browser();
    expect((await b.postForm(`${app.url}/t/${t.slug}/saml/acs`, {})).status).toBe(400);
    expect((await b.postForm(`${app.url}/t/${t.slug}/saml/acs`, { SAMLResponse: '%%%not-base64' })).status).toBe(400);
    const big = await b.postForm(`${app.url}/t/${t.slug}/saml/acs`, { SAMLResponse: 'A'.repeat(3 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(await big.text()).toContain(t.name);
    expect((await me(b, app.url, t.slug)).status).toBe(401);
  });

  it('refuses a response by its shape before any XML work: too many elements, siblings or levels (anonymous XPath cost)', async () => {
    const xml = xmlOf(await valid());
    const flood = xml.replace(/(<\/samlp:Status>)/, `$1${'<x/>'.repeat(2500)}`);
    expect((await refused(b64(flood), 'refused')).reason).toContain('too large: more than 2000 elements');
    const values = xml.replace(/(<\/saml:Issuer>)/, `$1<saml:AttributeStatement><saml:Attribute Name="g">${'<saml:AttributeValue>v</saml:AttributeValue>'.repeat(2100)}</saml:Attribute></saml:AttributeStatement>`);
    expect((await refused(b64(values), 'refused')).reason).toContain('too large');
    const deep = xml.replace(/(<\/samlp:Status>)/, `$1${'<d>'.repeat(60)}${'</d>'.repeat(60)}`);
    expect((await refused(b64(deep), 'refused')).reason).toContain('nested deeper than 48');
    // A tenant that has no SAML connection at all refuses the same before parsing anything.
    const bare = await app.createTenant();
    const res = await new Browser().postForm(`${app.url}/t/${bare.slug}/saml/acs`, { SAMLResponse: b64(flood) });
    expect(res.status).toBe(400);
  });

  it('accepts a signed response with a large group attribute (1,000 values): within the bounds', async () => {
    const groups = Array.from({ length: 1000 }, (_, i) => `Group ${i}`);
    const res = await postToAcs(app, t, new Browser(), await valid({ nameId: 'many-groups@example.com', attributes: { groups } }));
    expect(res.status).toBe(303);
  });

  it('refuses DOCTYPE and entity declarations', async () => {
    const xml = xmlOf(await valid());
    const withDoctype = xml.replace(/^(<\?xml[^>]*>)?/, '$1<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>');
    const trace = await refused(b64(withDoctype), 'refused');
    expect(trace.reason).toContain('DOCTYPE');
  });

  it('refuses at tenant B a login made for tenant A, even through an IdP both trust', async () => {
    const b = await tenantWithSaml(app, idp);
    const forB = await idp.response(b.spMetadata, { nameId: 'mallory@example.com' });
    await refused(forB, 'wrong_destination');
    const otherIdp = makeSamlIdp();
    const c = await tenantWithSaml(app, otherIdp);
    await refused(await otherIdp.response(c.spMetadata, { nameId: 'mallory@example.com' }), 'unknown_issuer');
  });
});
