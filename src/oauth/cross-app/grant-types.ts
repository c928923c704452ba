/** The exact URNs of cross-app access (RFC 7523, RFC 8693 §3, draft-ietf-oauth-identity-assertion-authz-grant). */
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_JAG_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  /** What a client asks an IdP for to get an ID-JAG (IDJAG §4.3; the IdP answers `token_type: "N_A"`). */
  idJag: 'urn:ietf:params:oauth:token-type:id-jag',
} as const;

/** What `client add --grant` accepts, and the grant type each name enables. */
export const CROSS_APP_GRANTS = { 'jwt-bearer': JWT_BEARER, 'token-exchange': TOKEN_EXCHANGE } as const;
export type CrossAppGrantName = keyof typeof CROSS_APP_GRANTS;

export const isCrossAppGrant = (grantType: unknown) => grantType === JWT_BEARER || grantType === TOKEN_EXCHANGE;
