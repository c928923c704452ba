import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { Browser, me } from './support/browser.js';
import { encryptAssertionFor, makeSamlIdp, RSA_SHA1, spCertificates, type TestSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, samlLogin, tenantWithSaml } from './support/sso-fixtures.js';

const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const xmlOf = (response: string) => Buffer.from(response, 'base64').toString('utf8');
const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
const xenc = 'http://www.w3.org/2001/04/xmlenc#';
const AES256_GCM = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
const AES128_GCM = 'http://www.w3.org/2009/xmlenc11#aes128-gcm';

/** Encrypts a (signed) assertion to the SP's first encryption certificate. */
const encryptFor = (spMetadata: string, assertion: string, alg: string, keyAlg?: string) => encryptAssertionFor(spCertificates(spMetadata, 'encryption')[0]!, assertion, alg, keyAlg);

describe.each(testDbKinds)('SAML assertion policy (%s)', (kind) => {
  let app: TestApp;
  let idp: TestSamlIdp;
  let t: TenantCtx;
  let sp: string;
  let connId: string;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = makeSamlIdp();
    let conn;
    ({ t, conn, spMetadata: sp } = await tenantWithSaml(app, idp));
    connId = conn.id;
  });
  beforeEach(() => app.clock.set(new Date()));
  afterAll(() => app?.close());

  async function refused(response: string, code: string, tenant = t) {
    const browser = new Browser();
    const res = await postToAcs(app, tenant, browser, response);
    const page = await res.text();
    expect(res.status).toBe(400);
    const trace = await cli(app.services, 'sso-trace show', { id: /trc_[0-9a-z]+/.exec(page)![0] });
    expect(trace.reason).toMatch(new RegExp(`^${code}:`));
    expect((await me(browser, app.url, tenant.slug)).status).toBe(401);
    return String(trace.reason);
  }
  const accepted = async (response: string, tenant = t) => expect((await postToAcs(app, tenant, new Browser(), response)).status).toBe(303);

  /** A response signed on the Response only (what some IdPs do): the SP metadata tells samlify not to sign the assertion. */
  const responseOnlySigned = (spMd: string) =>
    idp.response(spMd.replace('WantAssertionsSigned="true"', 'WantAssertionsSigned="false"'), { nameId: 'ann@example.com', signResponse: true });

  describe('signed assertion required (our metadata says WantAssertionsSigned="true")', () => {
    it('refuses a signed Response with an unsigned assertion by default', async () => {
      const plain = await responseOnlySigned(sp);
      expect(ASSERTION.exec(xmlOf(plain))![0]).not.toContain('<ds:Signature');
      expect(xmlOf(plain)).toMatch(/<samlp:Response[^>]*>\s*<saml:Issuer[^>]*>[^<]*<\/saml:Issuer>\s*<ds:Signature/);
      await refused(plain, 'invalid_response');
      expect((await cli(app.services, 'idp list', { tenant: t.slug })).connections).toEqual([expect.objectContaining({ id: connId, acceptUnsignedAssertions: false })]);
    });

    it('accepts it once the connection opts in (`idp update --accept-unsigned-assertions on`), in that tenant only', async () => {
      const other = await tenantWithSaml(app, idp);
      const updated = await cli(app.services, 'idp update', { tenant: t.slug, id: connId, 'accept-unsigned-assertions': 'on' });
      expect(updated.acceptUnsignedAssertions).toBe(true);
      try {
        await accepted(await responseOnlySigned(sp));
        // Another tenant trusting the same IdP keeps the default.
        await refused(await responseOnlySigned(other.spMetadata), 'invalid_response', other.t);
        // Opting in never accepts an unsigned Response with an unsigned assertion.
        const bare = xmlOf(await responseOnlySigned(sp)).replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
        await refused(b64(bare), 'refused');
      } finally {
        await cli(app.services, 'idp update', { tenant: t.slug, id: connId, 'accept-unsigned-assertions': 'off' });
      }
      await refused(await responseOnlySigned(sp), 'invalid_response');
    });

    it('refuses the option on an OIDC connection and values other than on/off', async () => {
      await expect(cli(app.services, 'idp update', { tenant: t.slug, id: connId, 'accept-unsigned-assertions': 'yes' })).rejects.toThrow(/on or off/);
      const { addOidcConnection } = await import('../../src/sso/connections/add-oidc-connection.js');
      const oidc = await addOidcConnection(app.services, t, { issuer: 'https://oidc.example.com', clientId: 'c', clientSecret: 's' });
      await expect(cli(app.services, 'idp update', { tenant: t.slug, id: oidc.id, 'accept-unsigned-assertions': 'on' })).rejects.toThrow(/SAML connections only/);
      await cli(app.services, 'idp remove', { tenant: t.slug, id: oidc.id });
    });
  });

  describe('bearer SubjectConfirmationData checked on every response (IdP-initiated included)', () => {
    const idpInitiated = (values: Record<string, string>, encrypt = false) => idp.response(sp, { nameId: 'ann@example.com', values, encrypt });

    it('refuses an expired, missing or unreadable NotOnOrAfter, even though the Conditions are still valid', async () => {
      await refused(await idpInitiated({ SubjectConfirmationDataNotOnOrAfter: iso(-5 * 60_000) }), 'expired_confirmation');
      await refused(await idpInitiated({ SubjectConfirmationDataNotOnOrAfter: iso(-5 * 60_000) }, true), 'expired_confirmation');
      // Unreadable dates: node-saml already stops at them; missing ones are ours to refuse.
      await refused(await idpInitiated({ SubjectConfirmationDataNotOnOrAfter: '' }), '(expired_confirmation|invalid_response)');
      await refused(await idpInitiated({ SubjectConfirmationDataNotOnOrAfter: 'tomorrow' }), '(expired_confirmation|invalid_response)');
    });

    it('allows two minutes of skew, measured on our clock', async () => {
      await accepted(await idpInitiated({ SubjectConfirmationDataNotOnOrAfter: iso(-60_000) }));
      // Measured from the app's clock, not the wall clock: a slow first login must not move the boundary.
      const response = await idpInitiated({ SubjectConfirmationDataNotOnOrAfter: new Date(app.clock.now().getTime() + 60_000).toISOString() });
      app.clock.advance(3 * 60_000 + 1000);
      await refused(response, 'expired_confirmation');
    });

    it('refuses a Recipient that is not our ACS: another URL, another tenant’s ACS, empty', async () => {
      const other = await tenantWithSaml(app, idp);
      for (const SubjectRecipient of ['https://evil.example.com/acs', `${app.url}/t/${other.t.slug}/saml/acs`, '', `${app.url}/t/${t.slug}/saml/acs/`]) {
        await refused(await idpInitiated({ SubjectRecipient }), 'wrong_recipient');
      }
    });
  });

  describe('encrypted assertions: modern algorithms only, one copy, checked before decrypting', () => {
    const signedAssertion = async (o: { signatureAlgorithm?: string } = {}) => ASSERTION.exec(xmlOf(await idp.response(sp, { nameId: 'ann@example.com', ...o })))![0];
    const withEncrypted = async (...encrypted: string[]) => {
      const xml = xmlOf(await idp.response(sp, { nameId: 'ann@example.com' }));
      return b64(xml.replace(ASSERTION, encrypted.join('')));
    };

    it('accepts RSA-OAEP with AES-256-GCM, AES-128-GCM and AES-256-CBC', async () => {
      for (const alg of [AES256_GCM, AES128_GCM, `${xenc}aes256-cbc`]) {
        await accepted(await withEncrypted(await encryptFor(sp, await signedAssertion(), alg)));
      }
      await accepted(await idp.response(sp, { nameId: 'ann@example.com', encrypt: true, dataEncryptionAlgorithm: AES128_GCM }));
    });

    it('refuses RSA PKCS#1 v1.5 key transport and 3DES content encryption', async () => {
      expect(await refused(await idp.response(sp, { nameId: 'ann@example.com', encrypt: true, keyEncryptionAlgorithm: `${xenc}rsa-1_5` }), 'refused')).toContain('RSA-OAEP required');
      expect(await refused(await withEncrypted(await encryptFor(sp, await signedAssertion(), AES256_GCM, `${xenc}rsa-1_5`)), 'refused')).toContain('rsa-1_5');
      expect(await refused(await idp.response(sp, { nameId: 'ann@example.com', encrypt: true, dataEncryptionAlgorithm: `${xenc}tripledes-cbc` }), 'refused')).toContain('tripledes-cbc');
    });

    it('refuses a second EncryptedAssertion before decrypting any (a broken copy is never reached)', async () => {
      const good = await encryptFor(sp, await signedAssertion(), AES256_GCM);
      const broken = good.replace(/(<(\w+:)?CipherValue>)[^<]+/g, '$1AAAA');
      expect(broken).not.toBe(good);
      for (const copies of [[good, good], [good, broken], [broken, good], [good, good, good]]) {
        expect(await refused(await withEncrypted(...copies), 'refused')).toMatch(/\d EncryptedAssertion elements/);
      }
      // A copy hidden deeper (wrapping) counts too.
      const hidden = xmlOf(await withEncrypted(good)).replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions>${good}</samlp:Extensions>`);
      expect(await refused(b64(hidden), 'refused')).toMatch(/2 EncryptedAssertion elements/);
      // Two EncryptedKeys in one assertion would also mean two RSA operations.
      const key = /<(\w+:)?EncryptedKey[\s\S]*?<\/(\w+:)?EncryptedKey>/.exec(good)![0];
      expect(await refused(await withEncrypted(good.replace(key, key + key)), 'refused')).toContain('EncryptedKey');
    });

    it('refuses SHA-1 inside an encrypted assertion: signature method, or only the digest', async () => {
      expect(await refused(await idp.response(sp, { nameId: 'ann@example.com', encrypt: true, signatureAlgorithm: RSA_SHA1 }), 'refused')).toContain('rsa-sha1');
      const sha1Digest = (await signedAssertion()).replace(/<ds:DigestMethod Algorithm="[^"]+"/, '<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"');
      expect(await refused(await withEncrypted(await encryptFor(sp, sha1Digest, AES256_GCM)), 'refused')).toContain('xmldsig#sha1');
      // The same digest on a plain (unencrypted) assertion.
      const plain = xmlOf(await idp.response(sp, { nameId: 'ann@example.com' })).replace(/<ds:DigestMethod Algorithm="[^"]+"/, '<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"');
      expect(await refused(b64(plain), 'refused')).toContain('xmldsig#sha1');
    });
  });

  it('control: an SP-initiated login with an encrypted, signed assertion still works', async () => {
    const { res } = await samlLogin(app, t, idp, sp, { nameId: 'ann@example.com', encrypt: true, dataEncryptionAlgorithm: AES256_GCM });
    expect(res.status).toBe(303);
  });
});
