import type { TenantCtx } from '../tenants/tenant-context.js';

/** What a resource (the MCP endpoint, SCIM) learns from a valid access token of a tenant's authorization server. */
export interface AccessTokenInfo {
  tenantId: string;
  /** The user (User.id) the token acts for; null for client-credentials tokens. */
  userId: string | null;
  clientId: string;
  scopes: string[];
  /** The resource (RFC 8707) the token is bound to, e.g. PUBLIC_URL/t/{slug}/mcp or PUBLIC_URL/t/{slug}/scim/v2. */
  audience: string;
  grantId: string | null;
  issuedAt: Date;
  expiresAt: Date;
}

/**
 * Verifies an access token for a tenant and resource. Returns null for anything not valid *now* for that tenant and
 * audience (unknown, expired, revoked, another tenant's, another resource's, user deprovisioned).
 */
export interface AccessTokenVerifier {
  verify(t: TenantCtx, token: string, audience: string, hooks?: VerifyHooks): Promise<AccessTokenInfo | null>;
}

export interface VerifyHooks {
  /**
   * Called once the token's signature, issuer, audience and expiry are verified, before its live state (grant, user)
   * is read, with the user it names — so a caller can load what that user's request needs in parallel with that read
   * (the MCP endpoint loads the user's callable tools). Not called for a cached token or a client-credentials token.
   * The token may still be refused afterwards: what the hook loads must be safe for an inactive or revoked user.
   */
  onSignedSubject?: (userId: string) => void;
}
