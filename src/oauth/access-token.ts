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
  /** The token's `jti`: what RFC 7009 revocation of this one token names (src/oauth/revoke-access-token.ts). */
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
}

/**
 * Verifies an access token for a tenant and resource. Returns null for anything not valid *now* for that tenant and
 * audience (unknown, expired, revoked, another tenant's, another resource's, user deprovisioned).
 */
export interface AccessTokenVerifier {
  verify(t: TenantCtx, token: string, audience: string, hooks?: VerifyHooks): Promise<AccessTokenInfo | null>;
  /** Whether verifying this token now would read its live state (it is not cached): the cold read reads it ahead. */
  readsLiveState?(token: string): boolean;
}

/** A grant's live state and its user's, as the token check reads it (verify-access-token.ts). */
export interface LiveGrant {
  accountId: string | null;
  expiresAt: Date | string | null;
  /** Null when the grant's user row does not exist (any more). */
  active: boolean | null;
  revokedBefore: Date | string | null;
  /** The token itself (its `jti`) was revoked (RFC 7009), though its grant lives on. */
  tokenRevoked: boolean;
}

/**
 * A grant's live state read before the token naming it was verified, by the request's cold read (src/mcp/cold-read.ts),
 * keyed by what the unverified token claimed. The verifier uses it only if the token, once verified, is for this tenant
 * and names exactly this grant, subject and token id; otherwise it reads the grant itself.
 */
export interface PrefetchedGrant {
  tenantId: string;
  grantId: string;
  subject: string;
  /** The `jti` the deny-list was read for (LiveGrant.tokenRevoked). */
  tokenId: string;
  /** Null: no such grant in this tenant. */
  live: LiveGrant | null;
  /** `EventBus.now()` when the read started: a verification using it is cached only if no event dropped tokens since. */
  readAt: number;
}

export interface VerifyHooks {
  /** See {@link PrefetchedGrant}. */
  prefetched?: PrefetchedGrant;
  /**
   * Called once the token's signature, issuer, audience and expiry are verified, before its live state (grant, user)
   * is read, with the user it names — so a caller can load what that user's request needs in parallel with that read
   * (the MCP endpoint loads the user's callable tools). Not called for a cached token or a client-credentials token.
   * The token may still be refused afterwards: what the hook loads must be safe for an inactive or revoked user.
   */
  onSignedSubject?: (userId: string) => void;
}
