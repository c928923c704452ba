import { X509Certificate } from 'node:crypto';
import { getVerifiedXml, parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml.js';
import { METADATA_BOUNDS, xmlOutOfBounds } from './xml-bounds.js';
import { badRequest } from '../../lib/errors.js';
import { weakSignatureAlgorithm } from './inspect-response.js';
import { certPem } from './parse-idp-metadata.js';

export interface MetadataTrust {
  /** Certificates the admin gave for the metadata signature (`--metadata-cert`): a signature is then mandatory. */
  pinned: string[];
  /** The IdP signing certificates the connection already trusts (a refresh); empty when adding. */
  known: string[];
  /**
   * The connection's metadata was signed before: a refresh must be signed too (by a certificate in `known`), so an
   * attacker who controls the URL cannot downgrade to unsigned metadata listing their own keys.
   */
  signedBefore?: boolean;
}

/** The XML to parse, and whether it carried a (verified) signature — remembered so a refresh cannot drop it. */
export interface TrustedMetadata {
  xml: string;
  signed: boolean;
}

/**
 * Checks the XML signature of IdP metadata (SAML metadata §3.1) and returns the XML to parse — for signed metadata,
 * only the bytes the signature covers, so nothing outside it (wrapping) is ever read. Signed metadata must verify:
 * with the pinned certificate when there is one, else with the certificates the connection already trusts (so a
 * refresh cannot swap the IdP's keys without the IdP's key), else — first import, nothing pinned — with the signing
 * certificates it lists itself (integrity only: pin a certificate for origin). Unsigned metadata is refused when a
 * certificate is pinned, and on a refresh of a connection whose metadata was signed (no downgrade). SHA-1 signatures
 * are refused as in responses.
 */
export async function trustedMetadataXml(xml: string, trust: MetadataTrust): Promise<TrustedMetadata> {
  const text = xml.replace(/^\uFEFF/, '');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw badRequest('IdP metadata must not contain a DOCTYPE or entities');
  const outside = xmlOutOfBounds(text, METADATA_BOUNDS);
  if (outside) throw badRequest(`IdP metadata is too large: ${outside} (one entity's metadata is expected, not an aggregate)`);
  const doc = await parseDomFromString(text).catch(() => null);
  const root = doc?.documentElement;
  if (!doc || !root) throw badRequest('IdP metadata is not well-formed XML');
  const signature = xpath.selectElements(root, "./*[local-name()='Signature']")[0];
  if (!signature) {
    if (trust.pinned.length) throw badRequest('IdP metadata is not signed, but this connection requires a signature by its metadata certificate');
    if (trust.signedBefore) throw badRequest('IdP metadata is not signed, but this connection\'s metadata was signed before: an unsigned copy is refused');
    return { xml: text, signed: false };
  }
  const weak = weakSignatureAlgorithm(signature);
  if (weak) throw badRequest(`IdP metadata signature: ${weak} is not allowed: SHA-256 or better required`);
  const own = () =>
    xpath.selectElements(root, ".//*[local-name()='IDPSSODescriptor']/*[local-name()='KeyDescriptor'][not(@use) or @use='signing']//*[local-name()='X509Certificate']")
      .map((n) => (n.textContent ?? '').replace(/\s+/g, ''));
  const [certs, whose] = trust.pinned.length
    ? [trust.pinned, 'the configured metadata certificate']
    : trust.known.length
      ? [trust.known, 'the certificates this connection already trusts']
      : [own(), 'the certificates it lists'];
  let verified: string | null;
  try {
    verified = getVerifiedXml(text, root, certs.map(certPem));
  } catch {
    verified = null; // several signatures, an ID referenced twice, a reference elsewhere: all refused the same way
  }
  if (!verified) throw badRequest(`IdP metadata signature does not verify with ${whose}`);
  return { xml: verified, signed: true };
}

/** The certificates of a PEM file, as base64 DER bodies (what metadata and our config hold). */
export function pemCertificates(pem: string): string[] {
  const bodies = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!.replace(/\s+/g, ''));
  if (bodies.length === 0) throw badRequest('--metadata-cert: no PEM certificate in the file');
  for (const b of bodies) {
    try {
      new X509Certificate(Buffer.from(b, 'base64'));
    } catch {
      throw badRequest('--metadata-cert: unreadable certificate');
    }
  }
  return bodies;
}
