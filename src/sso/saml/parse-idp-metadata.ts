import { X509Certificate } from 'node:crypto';
import { parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml.js';
import { METADATA_BOUNDS, xmlOutOfBounds } from './xml-bounds.js';
import { badRequest } from '../../lib/errors.js';

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  signingCerts: string[];
  nameIdFormats: string[];
  /** HTTP-Redirect SingleLogoutService (where our LogoutRequests and LogoutResponses go), if the IdP has one. */
  sloUrl?: string;
}

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/**
 * Parses SAML 2.0 IdP metadata ourselves (node-saml does not): entity ID, the HTTP-Redirect SSO endpoint, and every
 * signing certificate (KeyDescriptor use="signing" or without use — SAML metadata §2.4.1.1), so a rollover that
 * publishes the next certificate beside the current one keeps logins working. DOCTYPE/entities are refused.
 */
export async function parseIdpMetadata(xml: string): Promise<IdpMetadata> {
  const text = xml.replace(/^\uFEFF/, ''); // Entra serves its metadata with a UTF-8 BOM
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw badRequest('IdP metadata must not contain a DOCTYPE or entities');
  const outside = xmlOutOfBounds(text, METADATA_BOUNDS);
  if (outside) throw badRequest(`IdP metadata is too large: ${outside} (one entity's metadata is expected, not an aggregate)`);
  const doc = await parseDomFromString(text).catch(() => null);
  if (!doc) throw badRequest('IdP metadata is not well-formed XML');
  const entities = xpath.selectElements(doc, "//*[local-name()='EntityDescriptor'][*[local-name()='IDPSSODescriptor']]");
  if (entities.length !== 1) throw badRequest('IdP metadata must describe exactly one entity with an IDPSSODescriptor');
  const entity = entities[0]!;
  const entityId = entity.getAttribute('entityID') ?? '';
  if (!entityId) throw badRequest('IdP metadata has no entityID');
  const idp = xpath.selectElements(entity, "./*[local-name()='IDPSSODescriptor']")[0]!;
  const sso = xpath.selectElements(idp, "./*[local-name()='SingleSignOnService']");
  const redirect = sso.find((e) => e.getAttribute('Binding') === REDIRECT);
  if (!redirect?.getAttribute('Location')) throw badRequest('IdP metadata has no HTTP-Redirect SingleSignOnService');
  const certNodes = xpath.selectElements(
    idp,
    "./*[local-name()='KeyDescriptor'][not(@use) or @use='signing']//*[local-name()='X509Certificate']",
  );
  const signingCerts = [...new Set(certNodes.map((n) => (n.textContent ?? '').replace(/\s+/g, '')).filter(Boolean))];
  for (const body of signingCerts) {
    try {
      new X509Certificate(Buffer.from(body, 'base64'));
    } catch {
      throw badRequest('IdP metadata contains an unreadable signing certificate');
    }
  }
  if (signingCerts.length === 0) throw badRequest('IdP metadata lists no signing certificate');
  const nameIdFormats = xpath.selectElements(idp, "./*[local-name()='NameIDFormat']").map((n) => (n.textContent ?? '').trim());
  const slo = xpath.selectElements(idp, "./*[local-name()='SingleLogoutService']").find((e) => e.getAttribute('Binding') === REDIRECT);
  const sloUrl = slo?.getAttribute('Location') || undefined;
  return { entityId, ssoUrl: redirect.getAttribute('Location')!, signingCerts, nameIdFormats, ...(sloUrl && { sloUrl }) };
}

/**
 * Certificates usable right now: an expired (or not yet valid) IdP certificate is refused (Entra gallery rule), with
 * the same tolerance for clock drift as assertion times.
 */
export function currentCerts(bodies: string[], now: Date, skewMs = 2 * 60_000): string[] {
  return bodies.filter((body) => {
    const c = new X509Certificate(Buffer.from(body, 'base64'));
    return new Date(c.validFrom).getTime() - skewMs <= now.getTime() && now < new Date(c.validTo);
  });
}

export const certPem = (body: string) => `-----BEGIN CERTIFICATE-----\n${body.replace(/(.{64})/g, '$1\n').trim()}\n-----END CERTIFICATE-----\n`;
