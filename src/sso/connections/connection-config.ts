import { z } from 'zod';

/** How a first login may link to an existing user (issue 4 §5): never by anything the IdP is not trusted for. */
export const MatchRule = z.enum(['email', 'userName', 'none']);

/**
 * Attribute / claim names tried in order. Defaults cover Okta (short names), Entra (its long claim URIs), Google
 * and generic SAML (urn:oid) / OIDC (standard claims) IdPs; a connection may override any list.
 */
export const MappingSchema = z.object({
  email: z.array(z.string()).optional(),
  givenName: z.array(z.string()).optional(),
  familyName: z.array(z.string()).optional(),
  displayName: z.array(z.string()).optional(),
  groups: z.array(z.string()).optional(),
});
export type Mapping = z.infer<typeof MappingSchema>;

export const SamlSettingsSchema = z.object({
  metadataUrl: z.string().url().optional(),
  ssoUrl: z.string().url(),
  /** The IdP's HTTP-Redirect SingleLogoutService, from its metadata (SAML single logout). */
  sloUrl: z.string().url().optional(),
  /** Base64 DER bodies of every signing certificate the metadata lists (several during rollover). */
  signingCerts: z.array(z.string()).min(1),
  nameIdFormats: z.array(z.string()).default([]),
  /** IdP-initiated SSO (no AuthnRequest) cannot be bound to a browser (login CSRF): off unless the admin turns it on. */
  idpInitiated: z.boolean().default(false),
  /**
   * Off (absent) = the assertion itself must be signed, as our SP metadata says (WantAssertionsSigned="true"). On =
   * a signed Response with an unsigned assertion is accepted too, for IdPs that can only do that (`idp update
   * --accept-unsigned-assertions on`).
   */
  acceptUnsignedAssertions: z.boolean().default(false),
  /** Base64 DER certificates the admin pinned for the metadata's own signature (a signature is then required). */
  metadataCerts: z.array(z.string()).optional(),
  /** The metadata was signed (and verified) when added or last refreshed: a refresh must then be signed too. */
  metadataSigned: z.boolean().optional(),
});

export const OidcSettingsSchema = z.object({
  clientId: z.string().min(1),
  clientAuth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  scopes: z.array(z.string()).default(['openid', 'email', 'profile']),
  /** 'shared' = the one PUBLIC_URL/oidc/callback of a multi-tenant app registration (Entra, Google). */
  callback: z.enum(['tenant', 'shared']).default('tenant'),
  /** Claims the ID token must carry with these values, e.g. Entra {tid: "<guid>"}, Google {hd: "example.com"}. */
  requiredClaims: z.record(z.string(), z.string()).default({}),
});

export const ConnectionConfigSchema = z.looseObject({
  jitEnabled: z.boolean().default(true),
  /** Lower-case e-mail domains this IdP may assert; linking to an existing user requires one of them. */
  allowedDomains: z.array(z.string()).default([]),
  matchBy: MatchRule.default('email'),
  mapping: MappingSchema.default({}),
  saml: SamlSettingsSchema.optional(),
  oidc: OidcSettingsSchema.optional(),
  /** OIDC only: this IdP may vouch for users with ID-JAGs at the tenant's AS (docs/cross-app-access.md). */
  idJag: z.boolean().default(false),
});
export type ConnectionConfig = z.output<typeof ConnectionConfigSchema>;

export function parseConnectionConfig(raw: unknown): ConnectionConfig {
  return ConnectionConfigSchema.parse(raw ?? {});
}

const entra = 'http://schemas.microsoft.com/identity/claims';
const xmlsoap = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims';

export const defaultSamlMapping: Required<Mapping> = {
  email: ['email', 'mail', 'Email', 'emailaddress', `${xmlsoap}/emailaddress`, 'urn:oid:0.9.2342.19200300.100.1.3', `${xmlsoap}/upn`, `${xmlsoap}/name`],
  givenName: ['firstName', 'givenName', 'given_name', `${xmlsoap}/givenname`, 'urn:oid:2.5.4.42'],
  familyName: ['lastName', 'surname', 'sn', 'family_name', `${xmlsoap}/surname`, 'urn:oid:2.5.4.4'],
  displayName: ['displayName', 'name', `${entra}/displayname`, 'urn:oid:2.16.840.1.113730.3.1.241'],
  groups: ['groups', 'group', 'memberOf', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'http://schemas.xmlsoap.org/claims/Group'],
};

export const defaultOidcMapping: Required<Mapping> = {
  email: ['email', 'upn'],
  givenName: ['given_name'],
  familyName: ['family_name'],
  displayName: ['name'],
  groups: ['groups'],
};
