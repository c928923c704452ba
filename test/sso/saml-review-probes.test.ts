import crypto from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { Browser, me } from './support/browser.js';
import { encryptAssertionFor, makeSamlIdp, spCertificates, type TestSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, startSpInitiated, tenantWithSaml } from './support/sso-fixtures.js';

/**
 * Attack variants of issue 8 §3 beyond the examples of saml-hostile and saml-assertion-policy, each against the real
 * app with a real signing IdP (samlify): a failure status around a valid assertion, an unsolicited assertion dressed
 * up as an answer, the RSA work a response with several encrypted copies costs (counted, not timed), an encrypted
 * and a plain assertion side by side, a signature referencing another element.
 */
const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const xmlOf = (response: string) => Buffer.from(response, 'base64').toString('utf8');
const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const AES256_GCM = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';

describe.each(testDbKinds)('SAML review probes (%s)', (kind) => {
  let app: TestApp;
  let idp: TestSamlIdp;
  let t: TenantCtx;
  let sp: string;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = makeSamlIdp();
    ({ t, spMetadata: sp } = await tenantWithSaml(app, idp));
  });
  beforeEach(() => app.clock.set(new Date()));
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => app?.close());

  async function refused(response: string, code: string, o: { tenant?: TenantCtx; browser?: Browser } = {}) {
    const tenant = o.tenant ?? t;
    const browser = o.browser ?? new Browser();
    const res = await postToAcs(app, tenant, browser, response);
    const page = await res.text();
    expect(res.status).toBe(400);
    const trace = await cli(app.services, 'sso-trace show', { id: /trc_[0-9a-z]+/.exec(page)![0] });
    expect(trace.reason).toMatch(new RegExp(`^${code}:`));
    expect((await me(browser, app.url, tenant.slug)).status).toBe(401);
    return String(trace.reason);
  }
  const accepted = async (response: string) => expect((await postToAcs(app, t, new Browser(), response)).status).toBe(303);
  const valid = (nameId = 'ann@example.com') => idp.response(sp, { nameId });

  it('refuses a failure status (Responder, Requester) around a validly signed assertion; the control passes', async () => {
    await accepted(await valid());
    for (const status of ['urn:oasis:names:tc:SAML:2.0:status:Responder', 'urn:oasis:names:tc:SAML:2.0:status:Requester']) {
      const xml = xmlOf(await valid()).replace('urn:oasis:names:tc:SAML:2.0:status:Success', status);
      expect(xml).toContain(status);
      expect(await refused(b64(xml), 'refused')).toContain(`status ${status}`);
    }
    // A missing Status is no success either.
    const none = xmlOf(await valid()).replace(/<samlp:Status>[\s\S]*?<\/samlp:Status>/, '');
    expect(await refused(b64(none), 'refused')).toContain('status (none)');
  });

  it('refuses an unsolicited assertion wrapped as the answer to a request (InResponseTo added to the unsigned Response)', async () => {
    // IdP-initiated is off (the default): an attacker holding an unsolicited signed assertion starts a login in
    // their own browser and adds that request's ID to the Response around it.
    const strict = await tenantWithSaml(app, idp, { idpInitiated: false });
    const browser = new Browser();
    const req = await startSpInitiated(app, strict.t, browser);
    const unsolicited = xmlOf(await idp.response(strict.spMetadata, { nameId: 'ann@example.com' }));
    expect(ASSERTION.exec(unsolicited)![0]).not.toContain('InResponseTo');
    const dressed = unsolicited.replace(/<samlp:Response /, `<samlp:Response InResponseTo="${req.id}" `);
    expect(await refused(b64(dressed), 'bad_in_response_to', { tenant: strict.t, browser })).toContain('assertion answers (no request)');
    // Control: the real answer to that request (signed InResponseTo) is accepted in that browser.
    const answer = await idp.response(strict.spMetadata, { nameId: 'ann@example.com', inResponseTo: (await startSpInitiated(app, strict.t, browser)).id });
    expect((await postToAcs(app, strict.t, browser, answer)).status).toBe(303);
  });

  it('does no RSA decryption at all for a response with two EncryptedAssertions (counted, not timed)', async () => {
    const encryptionCert = spCertificates(sp, 'encryption')[0]!;
    const plain = xmlOf(await valid());
    const one = await encryptAssertionFor(encryptionCert, ASSERTION.exec(plain)![0], AES256_GCM);
    const decrypt = vi.spyOn(crypto, 'privateDecrypt');
    // Control: one encrypted assertion is RSA-decrypted (so the counter sees the ACS's decryptions).
    await accepted(b64(plain.replace(ASSERTION, one)));
    expect(decrypt.mock.calls.length).toBeGreaterThan(0);
    const other = await encryptAssertionFor(encryptionCert, ASSERTION.exec(xmlOf(await valid('bob@example.com')))![0], AES256_GCM);
    for (const copies of [[one, other], [one, one, one], Array.from({ length: 20 }, () => other)]) {
      decrypt.mockClear();
      expect(await refused(b64(plain.replace(ASSERTION, copies.join(''))), 'refused')).toMatch(/\d+ EncryptedAssertion elements/);
      expect(decrypt).not.toHaveBeenCalled();
    }
    // Two EncryptedKeys inside one EncryptedAssertion: refused before any RSA operation too.
    const key = /<(\w+:)?EncryptedKey[\s\S]*?<\/(\w+:)?EncryptedKey>/.exec(one)![0];
    decrypt.mockClear();
    expect(await refused(b64(plain.replace(ASSERTION, one.replace(key, key + key))), 'refused')).toContain('EncryptedKey');
    expect(decrypt).not.toHaveBeenCalled();
  });

  it('refuses an encrypted and a plain signed assertion side by side, in either order', async () => {
    const plain = xmlOf(await valid());
    const signed = ASSERTION.exec(plain)![0];
    const encrypted = await encryptAssertionFor(spCertificates(sp, 'encryption')[0]!, ASSERTION.exec(xmlOf(await valid('eve@example.com')))![0], AES256_GCM);
    await refused(b64(plain.replace(signed, signed + encrypted)), 'invalid_response');
    await refused(b64(plain.replace(signed, encrypted + signed)), 'invalid_response');
  });

  it('refuses an assertion whose signature references another element (the Response, or an absent ID)', async () => {
    const xml = xmlOf(await valid());
    const responseId = /<samlp:Response[^>]*\sID="([^"]+)"/.exec(xml)![1]!;
    const toResponse = xml.replace(/(<ds:Reference URI=")#[^"]+"/, `$1#${responseId}"`);
    expect(toResponse).not.toBe(xml);
    await refused(b64(toResponse), 'invalid_response');
    await refused(b64(xml.replace(/(<ds:Reference URI=")#[^"]+"/, '$1#_nowhere"')), 'invalid_response');
    await refused(b64(xml.replace(/(<ds:Reference URI=")#[^"]+"/, '$1"')), 'invalid_response');
  });
});
