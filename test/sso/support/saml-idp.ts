import { generateKeyPairSync, randomBytes, verify, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import xmlenc from 'xml-encryption';
import { inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import { selfSignedCertificate } from '../../../src/sso/saml/self-signed-cert.js';

// samlify needs a schema validator; our SP validates with node-saml, so the test IdP skips schema checks.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';

export function keyPair(cn = 'Test IdP', notBefore = new Date(Date.now() - 86_400_000), years = 5) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem: selfSignedCertificate({ privateKey, publicKey, commonName: cn, notBefore, years }) };
}

export interface ResponseOptions {
  nameId: string;
  attributes?: Record<string, string[]>;
  inResponseTo?: string;
  relayState?: string;
  /** Overrides of the template's values: Audience, Destination, SubjectRecipient, ConditionsNotBefore… */
  values?: Record<string, string>;
  /** Sign the whole response as well (default: only the assertion). */
  signResponse?: boolean;
  encrypt?: boolean;
  /** XML Encryption algorithms of an encrypted assertion (default: samlify's AES-256-CBC with RSA-OAEP). */
  dataEncryptionAlgorithm?: string;
  keyEncryptionAlgorithm?: string;
  signatureAlgorithm?: string;
  /** Sign with these keys instead of the IdP's published ones. */
  signWith?: { privateKeyPem: string; certPem: string };
  /** When the IdP says it authenticated the user (AuthnInstant; default now): an older one is its session cookie. */
  authnInstant?: Date;
}

export interface TestSamlIdp {
  entityId: string;
  ssoUrl: string;
  /** Its HTTP-Redirect SingleLogoutService. */
  sloUrl: string;
  keys: { privateKeyPem: string; certPem: string };
  /** IdP metadata XML; `extraCerts` publishes further signing certificates (rollover). */
  metadata(extraCerts?: string[]): string;
  response(spMetadataXml: string, o: ResponseOptions): Promise<string>;
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

export function makeSamlIdp(entityId = `https://idp-${randomBytes(4).toString('hex')}.example.com/saml`): TestSamlIdp {
  const keys = keyPair();
  const ssoUrl = `${entityId.replace(/\/saml$/, '')}/sso`;
  const sloUrl = `${entityId.replace(/\/saml$/, '')}/slo`;
  const metadataWith = (certs: string[]) => `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
${certs.map((c) => `    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${body(c)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`).join('\n')}
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${sloUrl}"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${ssoUrl}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${ssoUrl}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
  const metadata = (extraCerts: string[] = []) => metadataWith([keys.certPem, ...extraCerts]);

  return {
    entityId,
    ssoUrl,
    sloUrl,
    keys,
    metadata,
    async response(spMetadataXml, o) {
      const signer = o.signWith ?? keys;
      const idp = samlify.IdentityProvider({
        metadata: metadataWith([signer.certPem]),
        privateKey: signer.privateKeyPem,
        isAssertionEncrypted: o.encrypt ?? false,
        ...(o.dataEncryptionAlgorithm && { dataEncryptionAlgorithm: o.dataEncryptionAlgorithm }),
        ...(o.keyEncryptionAlgorithm && { keyEncryptionAlgorithm: o.keyEncryptionAlgorithm }),
        requestSignatureAlgorithm: o.signatureAlgorithm ?? RSA_SHA256,
        nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      });
      const sp = samlify.ServiceProvider({ metadata: spMetadataXml, wantMessageSigned: o.signResponse ?? false });
      const attrs = Object.entries(o.attributes ?? {})
        .map(([name, vals]) => `<saml:Attribute Name="${esc(name)}">${vals.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
        .join('');
      const now = new Date();
      const later = new Date(now.getTime() + 5 * 60_000).toISOString();
      const { context } = await idp.createLoginResponse(sp, {} as never, 'post', { email: o.nameId }, {
        customTagReplacement: (template: string) => {
          const values: Record<string, string> = {
            ID: `_r${randomBytes(12).toString('hex')}`,
            AssertionID: `_a${randomBytes(12).toString('hex')}`,
            Destination: sp.entityMeta.getAssertionConsumerService('post') as string,
            SubjectRecipient: sp.entityMeta.getAssertionConsumerService('post') as string,
            Audience: sp.entityMeta.getEntityID(),
            Issuer: entityId,
            IssueInstant: now.toISOString(),
            StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
            ConditionsNotBefore: now.toISOString(),
            ConditionsNotOnOrAfter: later,
            SubjectConfirmationDataNotOnOrAfter: later,
            NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
            NameID: o.nameId,
            InResponseTo: o.inResponseTo ?? '',
            ...o.values,
          };
          let xml = template.replace(/\{(\w+)\}/g, (_m, k: string) => {
            if (k === 'AttributeStatement') return attrs ? `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>` : '';
            if (k === 'AuthnStatement') return `<saml:AuthnStatement AuthnInstant="${(o.authnInstant ?? now).toISOString()}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
            return esc(values[k] ?? '');
          });
          xml = xml.replace(/ InResponseTo=""/g, '');
          return { id: values.ID!, context: xml };
        },
      } as never);
      return context as string;
    },
  };
}

/** The AuthnRequest our SP sent (HTTP-Redirect binding): its ID and the query parameters. */
export function readAuthnRequest(location: string): { id: string; xml: string; params: URLSearchParams } {
  const url = new URL(location);
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  return { id: /\sID="([^"]+)"/.exec(xml)![1]!, xml, params: url.searchParams };
}

const pemOf = (certBody: string) => `-----BEGIN CERTIFICATE-----\n${certBody.replace(/(.{64})/g, '$1\n').trim()}\n-----END CERTIFICATE-----\n`;

/** The certificates of one use in SP metadata, in order (base64 bodies). */
export const spCertificates = (spMetadata: string, use: 'signing' | 'encryption') =>
  [...spMetadata.matchAll(new RegExp(`use="${use}">[\\s\\S]*?<ds:X509Certificate>([^<]+)<`, 'g'))].map((m) => m[1]!);

/** Encrypts an assertion to one SP certificate with the algorithms given (as a hostile, outdated or pinned IdP would). */
export async function encryptAssertionFor(certBody: string, assertion: string, encryptionAlgorithm: string, keyEncryptionAlgorithm = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', keyEncryptionDigest?: 'sha1' | 'sha256' | 'sha512') {
  const cert = pemOf(certBody);
  const rsaPub = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'pem' });
  const options = { rsa_pub: Buffer.from(rsaPub), pem: Buffer.from(cert), encryptionAlgorithm, keyEncryptionAlgorithm, ...(keyEncryptionDigest && { keyEncryptionDigest }), warnInsecureAlgorithm: false };
  const encrypted = await promisify(xmlenc.encrypt)(assertion, options as never);
  return `<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${encrypted as string}</saml:EncryptedAssertion>`;
}

/** Verifies an HTTP-Redirect binding signature (SAML bindings §3.4.4.1) over the raw query, with one certificate. */
export function redirectSignedBy(location: string, certBody: string): boolean {
  const raw = new URL(location).search.slice(1).split('&');
  const pick = (name: string) => raw.find((p) => p.startsWith(`${name}=`));
  const signed = ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg'].map(pick).filter(Boolean).join('&');
  const signature = decodeURIComponent(pick('Signature')!.slice('Signature='.length));
  return verify('sha256', Buffer.from(signed), new X509Certificate(pemOf(certBody)).publicKey, Buffer.from(signature, 'base64'));
}
