import { decryptXml, parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml.js';
import { SAML_MESSAGE_BOUNDS, xmlOutOfBounds } from './xml-bounds.js';

/** Signature and digest algorithms we accept (XML DSig 1.1 / RFC 6931). SHA-1 is broken for signatures. */
const allowed = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

/**
 * XML Encryption algorithms we decrypt (XML Encryption 1.1 §5). Key transport: RSA-OAEP only — RSA PKCS#1 v1.5 is
 * open to Bleichenbacher's oracle (§5.5.1 of the spec warns). Content: AES-GCM (preferred, authenticated) or
 * AES-CBC, which every IdP still uses and which is only reached with a key we RSA-OAEP-unwrapped; never 3DES.
 * The OAEP digest may be SHA-1 (the default of rsa-oaep-mgf1p, what Okta, Entra and AD FS send): OAEP needs no
 * collision resistance, unlike a signature (docs/decisions/0012).
 */
const keyTransport = new Set(['http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p']);
/**
 * OAEP digests as the decryptor (xml-encryption 3) reads them: SHA-1 under its standard URI, SHA-256/512 only under
 * the `xmldsig#` spelling it writes itself. The standard `xmlenc#sha256`/`xmlenc#sha512` URIs would be decrypted with
 * SHA-1 and fail as "could not be decrypted with our key" — refused by name instead, so the trace says what to change.
 */
const oaepDigests = new Set(['http://www.w3.org/2000/09/xmldsig#sha1', 'http://www.w3.org/2000/09/xmldsig#sha256', 'http://www.w3.org/2000/09/xmldsig#sha512']);
const contentEncryption = new Set([
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
]);

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

export interface ResponseFacts {
  xml: string;
  issuer: string | null;
  destination: string | null;
  responseSigned: boolean;
  inResponseTo: string | null;
  /** The SP key that decrypted the EncryptedAssertion, if there was one (several are tried during a key rotation). */
  decryptionKey: string | null;
}

/** A refusal found before any signature check; `reason` goes to the SSO trace. */
export class ResponseRefused extends Error {}

/**
 * Checks node-saml 5 leaves to us, run on the raw response before it is trusted at all:
 * - the top-level StatusCode is Success (node-saml would use an assertion found in a failure response);
 * - no DOCTYPE / entity declarations (XXE, billion laughs) and no XML comments (comment injection into NameID or
 *   attribute values survives exclusive canonicalization, CVE-2017-11427…11430);
 * - at most one EncryptedAssertion, with one EncryptedKey, and only the algorithms above — all checked before any
 *   RSA decryption, so a response cannot make us decrypt many copies or run a padding oracle;
 * - every SignatureMethod and DigestMethod — also inside an EncryptedAssertion, decrypted with our key — is SHA-256
 *   or better, and there is at least one signature (node-saml would accept SHA-1).
 * Also returns the Issuer (to pick the connection) and Destination (checked against our ACS by the caller).
 */
export async function inspectResponse(samlResponse: string, decryptionKeys: string[]): Promise<ResponseFacts> {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const outside = xmlOutOfBounds(xml, SAML_MESSAGE_BOUNDS);
  if (outside) throw new ResponseRefused(`response too large: ${outside}`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new ResponseRefused('DOCTYPE or ENTITY declaration in the response');
  if (xml.includes('<!--')) throw new ResponseRefused('XML comment in the response');
  const doc = await parseDomFromString(xml).catch(() => null);
  if (!doc) throw new ResponseRefused('response is not well-formed XML');
  const root = doc.documentElement;
  if (root?.localName !== 'Response') throw new ResponseRefused('not a samlp:Response');
  // SAML core §3.2.2.2: only a Success response may carry a usable assertion; a failure is reported as such (the
  // codes are URIs, bounded here) and nothing in it is decrypted or verified.
  const status = xpath.selectElements(root, "./*[local-name()='Status']/*[local-name()='StatusCode']")[0];
  const code = status?.getAttribute('Value') ?? '';
  if (code !== SUCCESS) {
    const nested = status ? (xpath.selectElements(status, "./*[local-name()='StatusCode']")[0]?.getAttribute('Value') ?? '') : '';
    throw new ResponseRefused(`the IdP answered status ${(code || '(none)').slice(0, 120)}${nested ? ` / ${nested.slice(0, 120)}` : ''}, not Success`);
  }
  const algorithms = collectAlgorithms(doc);
  const encrypted = xpath.selectElements(doc, "//*[local-name()='EncryptedAssertion']");
  if (encrypted.length > 1) throw new ResponseRefused(`${encrypted.length} EncryptedAssertion elements: exactly one assertion is allowed`);
  let decryptionKey: string | null = null;
  if (encrypted[0]) {
    if (encrypted[0].parentNode !== root) throw new ResponseRefused('EncryptedAssertion outside the Response');
    checkEncryptionAlgorithms(encrypted[0]);
    const xmlEnc = encrypted[0].toString();
    let decrypted: string | null = null;
    for (const key of decryptionKeys) {
      decrypted = await decryptXml(xmlEnc, key).catch(() => null);
      if (decrypted !== null) {
        decryptionKey = key;
        break;
      }
    }
    if (decrypted === null) throw new ResponseRefused('encrypted assertion could not be decrypted with our key');
    if (/<!DOCTYPE|<!ENTITY/i.test(decrypted) || decrypted.includes('<!--')) throw new ResponseRefused('DOCTYPE, ENTITY or comment in the encrypted assertion');
    const within = xmlOutOfBounds(decrypted, SAML_MESSAGE_BOUNDS);
    if (within) throw new ResponseRefused(`encrypted assertion too large: ${within}`);
    const inner = await parseDomFromString(decrypted).catch(() => null);
    if (!inner) throw new ResponseRefused('encrypted assertion is not well-formed XML');
    algorithms.push(...collectAlgorithms(inner));
  }
  if (!algorithms.some((a) => a.kind === 'SignatureMethod')) throw new ResponseRefused('no signature');
  const weak = algorithms.find((a) => !allowed.has(a.uri));
  if (weak) throw new ResponseRefused(`${weak.kind} ${weak.uri || '(none)'} is not allowed: SHA-256 or better required`);
  const text = (path: string) => xpath.selectElements(doc, path)[0]?.textContent?.trim() ?? null;
  return {
    xml,
    issuer: text("/*[local-name()='Response']/*[local-name()='Issuer']") ?? text("/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Issuer']"),
    destination: root.hasAttribute('Destination') ? root.getAttribute('Destination') : null,
    responseSigned: xpath.selectElements(doc, "/*[local-name()='Response']/*[local-name()='Signature']").length > 0,
    inResponseTo: root.getAttribute('InResponseTo') || null,
    decryptionKey,
  };
}

/** The first signature or digest algorithm under `node` weaker than SHA-256 (also used for signed IdP metadata). */
export function weakSignatureAlgorithm(node: Parameters<typeof xpath.selectElements>[0]): string | null {
  const weak = collectAlgorithms(node).find((a) => !allowed.has(a.uri));
  return weak ? `${weak.kind} ${weak.uri || '(none)'}` : null;
}

function collectAlgorithms(doc: Parameters<typeof xpath.selectElements>[0]) {
  const pick = (kind: 'SignatureMethod' | 'DigestMethod') =>
    xpath.selectElements(doc, `//*[local-name()='Signature']//*[local-name()='${kind}']`).map((e) => ({ kind, uri: e.getAttribute('Algorithm') ?? '' }));
  return [...pick('SignatureMethod'), ...pick('DigestMethod')];
}

type Element = ReturnType<typeof xpath.selectElements>[number];

/** The algorithm and shape checks of an encrypted element (EncryptedAssertion, EncryptedID), before any decryption. */
export function checkEncryptionAlgorithms(enc: Element) {
  const under = (path: string) => xpath.selectElements(enc, path);
  const keys = under(".//*[local-name()='EncryptedKey']");
  if (keys.length !== 1) throw new ResponseRefused(`${keys.length} EncryptedKey elements in the ${enc.localName}: exactly one is allowed`);
  const data = under("./*[local-name()='EncryptedData']");
  if (data.length !== 1) throw new ResponseRefused(`the ${enc.localName} must hold exactly one EncryptedData`);
  const alg = (e: Element | undefined) => e?.getAttribute('Algorithm') ?? '(none)';
  const content = alg(xpath.selectElements(data[0]!, "./*[local-name()='EncryptionMethod']")[0]);
  if (!contentEncryption.has(content)) throw new ResponseRefused(`content encryption ${content} is not allowed: AES-GCM or AES-CBC required`);
  const method = xpath.selectElements(keys[0]!, "./*[local-name()='EncryptionMethod']")[0];
  if (!keyTransport.has(alg(method))) throw new ResponseRefused(`key transport ${alg(method)} is not allowed: RSA-OAEP required`);
  for (const digest of xpath.selectElements(method!, "./*[local-name()='DigestMethod']")) {
    if (!oaepDigests.has(alg(digest))) throw new ResponseRefused(`RSA-OAEP digest ${alg(digest)} is not allowed (SHA-1, the rsa-oaep-mgf1p default, is)`);
  }
  // Anything else naming an algorithm (a second EncryptionMethod, an AgreementMethod…) is not something we decrypt.
  const named = under(".//*[@Algorithm][local-name()='EncryptionMethod' or local-name()='AgreementMethod' or local-name()='KeyDerivationMethod']");
  if (named.length !== 2) throw new ResponseRefused(`unexpected encryption methods in the ${enc.localName}`);
}
