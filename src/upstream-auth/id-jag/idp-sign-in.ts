import type { Connection } from '../../sso/connections/manage-connections.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * The SSO side of `id-jag` upstreams (issue 13 §3, decision 0027). The gateway asks the tenant's IdP for an ID-JAG
 * with the user's IdP ID token as `subject_token`; that token only comes from the user's own sign-in. So while an
 * `id-jag` upstream names an OIDC connection, that connection's logins also ask for `offline_access`, and the ID
 * token and refresh token the IdP returns are kept in the vault for the user (src/sso/idp-tokens, kind
 * `idp-sign-in`): the refresh token yields a fresh ID token when the stored one has expired.
 */
export const ID_JAG_SIGN_IN = 'idp-sign-in' as const;

export interface IdpSignIn {
  idToken: string;
  /** The ID token's `exp`, in ms (the IdP's clock). */
  idTokenExpiresAt: number;
  refreshToken?: string;
}

/** Does some `id-jag` upstream of the tenant obtain its ID-JAGs from this connection? */
async function mintsIdJags(t: TenantCtx, conn: Connection): Promise<boolean> {
  if (conn.kind !== 'oidc') return false;
  return (await t.db.upstreamOAuthClient.count({ where: { idJagConnectionId: conn.id } })) > 0;
}

/** Scopes to add to this connection's authorization request: `offline_access` (OIDC Core §11) when it mints ID-JAGs. */
export async function idJagLoginScopes(t: TenantCtx, conn: Connection): Promise<string[]> {
  return (await mintsIdJags(t, conn)) ? ['offline_access'] : [];
}

/** After the code exchange (the ID token already validated by openid-client): what to keep, or null. */
export async function captureIdJagSignIn(t: TenantCtx, conn: Connection, tokens: { id_token?: string; refresh_token?: string }, claims: { exp?: number }): Promise<IdpSignIn | null> {
  if (!tokens.id_token || typeof claims.exp !== 'number' || !(await mintsIdJags(t, conn))) return null;
  return { idToken: tokens.id_token, idTokenExpiresAt: claims.exp * 1000, ...(tokens.refresh_token && { refreshToken: tokens.refresh_token }) };
}
