import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AccessTokenInfo } from './access-token.js';
import { upsertPayload } from './payload-statements.js';

/** OidcPayload model of the access-token deny-list: one row per revoked `jti`, kept until the token would expire. */
export const REVOKED_ACCESS_TOKEN = 'RevokedAccessToken';

/**
 * Revokes ONE access token (RFC 7009 §2.1) — not its grant: the client's refresh token and its other access tokens live
 * on, as Okta and Entra do it; revoking the refresh token is what ends the grant. Our access tokens are JWTs (RFC 9068)
 * that nothing stores, so the revocation is a deny-list row by `jti`, which the verifier reads with the grant
 * (verify-access-token.ts, one statement), and 'token.revoked', which drops the token from every node's cache and ends
 * the MCP streams opened with it. The cleanup job removes the row a day after the token expired
 * (src/jobs/cleanup-expired.ts).
 */
export async function revokeAccessToken(s: Pick<Services, 'bus' | 'clock'>, t: TenantCtx, token: AccessTokenInfo): Promise<void> {
  await upsertPayload(t, {
    model: REVOKED_ACCESS_TOKEN,
    id: token.tokenId,
    payload: { clientId: token.clientId },
    grantId: token.grantId,
    userCode: null,
    uid: null,
    accountId: token.userId,
    expiresAt: token.expiresAt,
    now: s.clock.now(),
  });
  await s.bus.publish({ type: 'token.revoked', tenantId: t.id, tokenId: token.tokenId });
}
