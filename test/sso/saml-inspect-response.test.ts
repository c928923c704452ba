import { beforeAll, describe, expect, it } from 'vitest';
import { inspectResponse, ResponseRefused, weakSignatureAlgorithm } from '../../src/sso/saml/inspect-response.js';
import { parseDomFromString } from '@node-saml/node-saml/lib/xml.js';
import { encryptAssertionFor, keyPair } from './support/saml-idp.js';

/**
 * The raw-XML refusals run before any signature check (issue 18: each proven on its own). Signatures here are never
 * valid — inspectResponse only reads algorithm names; node-saml checks the signature afterwards — so every refusal
 * below is inspectResponse's alone. The end-to-end counterparts are in saml-hostile and saml-assertion-policy tests.
 */
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const AES256_CBC = 'http://www.w3.org/2001/04/xmlenc#aes256-cbc';
const AES128_GCM = 'http://www.w3.org/2009/xmlenc11#aes128-gcm';
const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const certBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

const sig = (sigAlg = RSA_SHA256, digest = SHA256) =>
  `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="${sigAlg}"/><ds:Reference><ds:DigestMethod Algorithm="${digest}"/></ds:Reference></ds:SignedInfo></ds:Signature>`;
const assertion = (inner = sig(), issuer = 'https://idp.example.com') =>
  `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1"><saml:Issuer>${issuer}</saml:Issuer>${inner}<saml:Subject><saml:NameID>a@example.com</saml:NameID></saml:Subject></saml:Assertion>`;
const SUCCESS = '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>';
const response = (inner: string, attrs = ' Destination="https://sp/acs" InResponseTo="_req1"', issuer: string | null = 'https://idp.example.com', status = SUCCESS) =>
  `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1"${attrs}>${issuer === null ? '' : `<saml:Issuer>${issuer}</saml:Issuer>`}${status}${inner}</samlp:Response>`;

async function refusal(xml: string, keys: string[] = []): Promise<string> {
  const err = await inspectResponse(b64(xml), keys).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ResponseRefused);
  return (err as Error).message;
}

describe('inspectResponse on plain responses', () => {
  it('reports issuer, destination, InResponseTo and whether the Response itself is signed', async () => {
    const facts = await inspectResponse(b64(response(sig() + assertion())), []);
    expect(facts).toEqual({ xml: response(sig() + assertion()), issuer: 'https://idp.example.com', destination: 'https://sp/acs', responseSigned: true, inResponseTo: '_req1', decryptionKey: null });
    const bare = await inspectResponse(b64(response(assertion(), '', null)), []);
    expect(bare).toMatchObject({ issuer: 'https://idp.example.com', destination: null, responseSigned: false, inResponseTo: null });
    // The Response's own Issuer wins over the assertion's, whitespace trimmed; an empty Destination is still one.
    expect(await inspectResponse(b64(response(assertion(sig(), 'https://other'), ' Destination=""', ' https://idp.example.com ')), [])).toMatchObject({
      issuer: 'https://idp.example.com',
      destination: '',
    });
    // A signature nested in the assertion is not a signed Response.
    expect((await inspectResponse(b64(response(assertion())), [])).responseSigned).toBe(false);
  });

  it('refuses DOCTYPE and ENTITY declarations, in any case', async () => {
    expect(await refusal(`<!DOCTYPE r [<!ENTITY x "y">]>${response(assertion())}`)).toMatch(/DOCTYPE or ENTITY/);
    expect(await refusal(`<!doctype r>${response(assertion())}`)).toMatch(/DOCTYPE or ENTITY/);
    expect(await refusal(response(assertion()).replace('<saml:Subject>', '<!ENTITY x "y"><saml:Subject>'))).toMatch(/DOCTYPE or ENTITY/);
  });

  it('refuses any XML comment (comment injection into NameID survives canonicalization)', async () => {
    expect(await refusal(response(assertion()).replace('a@example.com', 'a@example.com<!---->.evil.com'))).toBe('XML comment in the response');
  });

  it('refuses what is not well-formed XML, or not a samlp:Response', async () => {
    expect(await refusal('<samlp:Response')).toBe('response is not well-formed XML');
    expect(await refusal('not xml at all')).toBe('response is not well-formed XML');
    expect(await refusal(assertion())).toBe('not a samlp:Response');
  });

  it('refuses a response without any signature', async () => {
    expect(await refusal(response(assertion('')))).toBe('no signature');
    // A DigestMethod alone is not a signature.
    expect(await refusal(response(assertion('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:DigestMethod Algorithm="' + SHA256 + '"/></ds:Signature>')))).toBe('no signature');
  });

  it('refuses SHA-1 (or an unnamed algorithm) for the signature or only the digest, anywhere in the response', async () => {
    expect(await refusal(response(assertion(sig('http://www.w3.org/2000/09/xmldsig#rsa-sha1'))))).toBe(
      'SignatureMethod http://www.w3.org/2000/09/xmldsig#rsa-sha1 is not allowed: SHA-256 or better required',
    );
    expect(await refusal(response(sig() + assertion(sig(RSA_SHA256, 'http://www.w3.org/2000/09/xmldsig#sha1'))))).toBe(
      'DigestMethod http://www.w3.org/2000/09/xmldsig#sha1 is not allowed: SHA-256 or better required',
    );
    expect(await refusal(response(assertion(sig().replace(` Algorithm="${RSA_SHA256}"`, ''))))).toBe('SignatureMethod (none) is not allowed: SHA-256 or better required');
    for (const ok of ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha384', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']) {
      await expect(inspectResponse(b64(response(assertion(sig(ok, 'http://www.w3.org/2001/04/xmldsig-more#sha384')))), [])).resolves.toBeTruthy();
      await expect(inspectResponse(b64(response(assertion(sig(ok, 'http://www.w3.org/2001/04/xmlenc#sha512')))), [])).resolves.toBeTruthy();
    }
  });

  it('weakSignatureAlgorithm names the first weak algorithm, or null', async () => {
    const doc = async (xml: string) => (await parseDomFromString(xml)) as unknown as Parameters<typeof weakSignatureAlgorithm>[0];
    expect(weakSignatureAlgorithm(await doc(response(assertion())))).toBeNull();
    expect(weakSignatureAlgorithm(await doc(response(assertion(sig(RSA_SHA256, 'http://www.w3.org/2000/09/xmldsig#sha1')))))).toBe('DigestMethod http://www.w3.org/2000/09/xmldsig#sha1');
    expect(weakSignatureAlgorithm(await doc(response(assertion(sig(RSA_SHA256, '')))))).toBe('DigestMethod (none)');
  });
});

describe('inspectResponse on encrypted assertions', () => {
  let sp: { privateKeyPem: string; certPem: string };
  let other: { privateKeyPem: string; certPem: string };
  beforeAll(() => {
    sp = keyPair('SP');
    other = keyPair('Other');
  });
  const encrypted = (plain = assertion(), alg = AES256_CBC, to = sp) => encryptAssertionFor(certBody(to.certPem), plain, alg);

  it('decrypts with the first SP key that works and reports it (key rotation)', async () => {
    const xml = response(await encrypted());
    expect(await inspectResponse(b64(xml), [other.privateKeyPem, sp.privateKeyPem])).toMatchObject({ decryptionKey: sp.privateKeyPem, issuer: 'https://idp.example.com' });
    expect(await inspectResponse(b64(response(await encrypted(assertion(), AES128_GCM))), [sp.privateKeyPem])).toMatchObject({ decryptionKey: sp.privateKeyPem });
    expect(await refusal(xml, [other.privateKeyPem])).toBe('encrypted assertion could not be decrypted with our key');
    expect(await refusal(xml, [])).toBe('encrypted assertion could not be decrypted with our key');
  });

  it('refuses a comment inside the decrypted assertion (invisible before decryption)', async () => {
    const xml = response(await encrypted(assertion().replace('a@example.com', 'a@example.com<!---->.evil.com')));
    expect(xml).not.toContain('<!--');
    expect(await refusal(xml, [sp.privateKeyPem])).toBe('DOCTYPE, ENTITY or comment in the encrypted assertion');
  });

  it('refuses a DOCTYPE or ENTITY inside the decrypted assertion', async () => {
    for (const decl of ['<!DOCTYPE saml:Assertion>', '<!ENTITY x "y">', '<!doctype x>']) {
      const xml = response(await encrypted(decl + assertion()));
      expect(await refusal(xml, [sp.privateKeyPem])).toBe('DOCTYPE, ENTITY or comment in the encrypted assertion');
    }
  });

  it('refuses a decrypted assertion that is not well-formed XML', async () => {
    const xml = response(await encrypted(`${assertion()}<saml:Assertion/>`));
    expect(await refusal(xml, [sp.privateKeyPem])).toBe('encrypted assertion is not well-formed XML');
  });

  it('refuses SHA-1 inside the encrypted assertion, and counts its signature as the response’s only one', async () => {
    expect(await refusal(response(await encrypted(assertion(sig('http://www.w3.org/2000/09/xmldsig#rsa-sha1')))), [sp.privateKeyPem])).toMatch(/^SignatureMethod .*rsa-sha1 is not allowed/);
    expect(await refusal(response(await encrypted(assertion(''))), [sp.privateKeyPem])).toBe('no signature');
  });

  it('refuses a second EncryptedAssertion, or one not directly under the Response, before decrypting', async () => {
    const one = await encrypted();
    expect(await refusal(response(one + one), [sp.privateKeyPem])).toBe('2 EncryptedAssertion elements: exactly one assertion is allowed');
    expect(await refusal(response(`<samlp:Extensions>${one}</samlp:Extensions>`), [sp.privateKeyPem])).toBe('EncryptedAssertion outside the Response');
  });

  it('refuses other content or key-transport algorithms, OAEP digests, and extra encryption methods', async () => {
    const one = await encrypted();
    const cases: [string, string, RegExp][] = [
      [AES256_CBC, 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc', /^content encryption .*tripledes-cbc is not allowed/],
      ['http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', 'http://www.w3.org/2001/04/xmlenc#rsa-1_5', /^key transport .*rsa-1_5 is not allowed: RSA-OAEP required/],
    ];
    for (const [from, to, message] of cases) expect(await refusal(response(one.replace(from, to)), [sp.privateKeyPem])).toMatch(message);
    // An OAEP digest: SHA-1 is fine for OAEP (docs/decisions/0012), MD5 is not.
    const withDigest = (digest: string) => one.replace('<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"', `<DigestMethod Algorithm="${digest}"`);
    const md5 = withDigest('http://www.w3.org/2001/04/xmldsig-more#md5');
    expect(md5).toContain('xmldsig-more#md5');
    expect(await refusal(response(md5), [sp.privateKeyPem])).toBe('RSA-OAEP digest http://www.w3.org/2001/04/xmldsig-more#md5 is not allowed (SHA-1, the rsa-oaep-mgf1p default, is)');
    await expect(inspectResponse(b64(response(withDigest('http://www.w3.org/2000/09/xmldsig#sha1'))), [sp.privateKeyPem])).resolves.toMatchObject({ decryptionKey: sp.privateKeyPem });
    // The standard SHA-256/512 URIs: xml-encryption would unwrap with SHA-1 and fail obscurely — refused by name.
    for (const digest of ['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']) {
      expect(await refusal(response(withDigest(digest)), [sp.privateKeyPem])).toBe(`RSA-OAEP digest ${digest} is not allowed (SHA-1, the rsa-oaep-mgf1p default, is)`);
    }
    // SHA-256 as xml-encryption spells it (and reads it): unwrapped with SHA-256.
    const sha256 = await encryptAssertionFor(certBody(sp.certPem), assertion(), AES256_CBC, undefined, 'sha256');
    expect(sha256).toContain('<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"');
    await expect(inspectResponse(b64(response(sha256)), [sp.privateKeyPem])).resolves.toMatchObject({ decryptionKey: sp.privateKeyPem });
    // A further algorithm-bearing method (here an AgreementMethod next to the key) is not something we decrypt.
    const agreement = one.replace(/(<(?:\w+:)?EncryptedKey)/, '<xenc:AgreementMethod xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Algorithm="http://www.w3.org/2009/xmlenc11#ECDH-ES"/>$1');
    expect(await refusal(response(agreement), [sp.privateKeyPem])).toBe('unexpected encryption methods in the EncryptedAssertion');
    // No EncryptionMethod on the data: refused by name.
    expect(await refusal(response(one.replace(/<(\w+:)?EncryptionMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#aes256-cbc"\s*\/>/, '')), [sp.privateKeyPem])).toBe(
      'content encryption (none) is not allowed: AES-GCM or AES-CBC required',
    );
  });

  it('refuses an EncryptedAssertion with no, or two, EncryptedKey or EncryptedData elements', async () => {
    const one = await encrypted();
    const key = /<(\w+:)?EncryptedKey[\s\S]*<\/(\w+:)?EncryptedKey>/.exec(one)![0];
    expect(await refusal(response(one.replace(key, '')), [sp.privateKeyPem])).toBe('0 EncryptedKey elements in the EncryptedAssertion: exactly one is allowed');
    expect(await refusal(response(one.replace(key, key + key)), [sp.privateKeyPem])).toBe('2 EncryptedKey elements in the EncryptedAssertion: exactly one is allowed');
    const data = /<(\w+:)?EncryptedData[\s\S]*<\/(\w+:)?EncryptedData>/.exec(one)![0];
    const dataWithoutKey = data.replace(key, '');
    expect(await refusal(response(one.replace('</saml:EncryptedAssertion>', `${dataWithoutKey}</saml:EncryptedAssertion>`)), [sp.privateKeyPem])).toBe(
      'the EncryptedAssertion must hold exactly one EncryptedData',
    );
  });
});
