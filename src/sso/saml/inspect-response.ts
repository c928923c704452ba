import { decryptXml, parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml.js';

/** Signature and digest algorithms we accept (XML DSig 1.1 / RFC 6931). SHA-1 is broken for signatures. */
const allowed = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

export interface ResponseFacts {
  xml: string;
  issuer: string | null;
  destination: string | null;
  responseSigned: boolean;
  inResponseTo: string | null;
}

/** A refusal found before any signature check; `reason` goes to the SSO trace. */
export class ResponseRefused extends Error {}

/**
 * Checks node-saml 5 leaves to us, run on the raw response before it is trusted at all:
 * - no DOCTYPE / entity declarations (XXE, billion laughs) and no XML comments (comment injection into NameID or
 *   attribute values survives exclusive canonicalization, CVE-2017-11427…11430);
 * - every SignatureMethod and DigestMethod — also inside an EncryptedAssertion, decrypted with our key — is SHA-256
 *   or better, and there is at least one signature (node-saml would accept SHA-1).
 * Also returns the Issuer (to pick the connection) and Destination (checked against our ACS by the caller).
 */
export async function inspectResponse(samlResponse: string, decryptionKey: string): Promise<ResponseFacts> {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new ResponseRefused('DOCTYPE or ENTITY declaration in the response');
  if (xml.includes('<!--')) throw new ResponseRefused('XML comment in the response');
  const doc = await parseDomFromString(xml).catch(() => null);
  if (!doc) throw new ResponseRefused('response is not well-formed XML');
  const root = doc.documentElement;
  if (root?.localName !== 'Response') throw new ResponseRefused('not a samlp:Response');
  const algorithms = collectAlgorithms(doc);
  for (const enc of xpath.selectElements(doc, "/*[local-name()='Response']/*[local-name()='EncryptedAssertion']")) {
    const decrypted = await decryptXml(enc.toString(), decryptionKey).catch(() => null);
    if (decrypted === null) throw new ResponseRefused('encrypted assertion could not be decrypted with our key');
    if (/<!DOCTYPE|<!ENTITY/i.test(decrypted) || decrypted.includes('<!--')) throw new ResponseRefused('DOCTYPE, ENTITY or comment in the encrypted assertion');
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
  };
}

function collectAlgorithms(doc: Parameters<typeof xpath.selectElements>[0]) {
  const pick = (kind: 'SignatureMethod' | 'DigestMethod') =>
    xpath.selectElements(doc, `//*[local-name()='Signature']//*[local-name()='${kind}']`).map((e) => ({ kind, uri: e.getAttribute('Algorithm') ?? '' }));
  return [...pick('SignatureMethod'), ...pick('DigestMethod')];
}
