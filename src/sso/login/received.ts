import { defaultOidcMapping, defaultSamlMapping, type Mapping } from '../connections/connection-config.js';
import { mapProfile, type SsoProfile } from '../users/map-profile.js';

/**
 * What one IdP sign-in sent us, decoded and secret-free: SAML attributes or OIDC claims as received (names and values
 * as the IdP wrote them), the subject (NameID / `sub`) and, for SAML, the NameID format, issuer, AuthnInstant, authn
 * context and SessionIndex. Tokens, assertions and signatures are never kept; only what an admin needs to set up the
 * attribute mapping ("Test sign-in", docs/decisions/0030).
 */
export interface ReceivedClaims {
  protocol: 'saml' | 'oidc';
  issuer: string;
  subject: string;
  nameIdFormat?: string;
  /** When the IdP authenticated the user: SAML AuthnInstant, OIDC `auth_time` (ISO 8601). */
  authnInstant?: string;
  /** SAML AuthnContextClassRef, OIDC `acr` / `amr`. */
  authnContext?: string;
  sessionIndex?: string;
  assertionId?: string;
  /** SAML: what was signed and the SHA-256 fingerprint of the metadata certificate that verifies it (never the signature). */
  signature?: { signed: 'assertion' | 'response'; certificateSha256?: string };
  attributes: Record<string, unknown>;
}

/**
 * OIDC claims that are about the tokens, not the user (OIDC Core §2, §3.1.3.6): a hash of the access token or code,
 * the nonce. Never shown, never kept.
 */
const tokenClaims = new Set(['nonce', 'at_hash', 'c_hash', 's_hash']);

export const visibleClaims = (claims: Record<string, unknown>) => Object.fromEntries(Object.entries(claims).filter(([k]) => !tokenClaims.has(k)));

/**
 * The one mapping from what the IdP sent to our profile, for real logins (consume-saml-response.ts,
 * finish-oidc-login.ts) and for the console's mapping preview alike. SAML: a NameID of the emailAddress format (or that
 * looks like one) is the e-mail of last resort.
 */
export function profileOf(r: Pick<ReceivedClaims, 'protocol' | 'subject' | 'attributes'>, mapping: Mapping): SsoProfile {
  if (r.protocol === 'oidc') return mapProfile(r.subject, r.attributes, defaultOidcMapping, mapping);
  // Without an e-mail attribute the NameID stands in for one; mapProfile keeps it only if it is an address (whatever
  // the NameID format says), so no format check here (issue 18: such a check could never change the outcome).
  return mapProfile(r.subject, r.attributes, defaultSamlMapping, mapping, r.subject);
}
