import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { deleteIdpUserTokens, loadIdpUserToken, replaceIdpUserToken, saveIdpUserToken } from '../../sso/idp-tokens/idp-user-tokens.js';

/**
 * The user's Entra refresh token, kept in the vault per (tenant, user, SSO connection) through the generic store of
 * sign-in tokens (src/sso/idp-tokens: deprovisioning, logout, IdP logout and `idp remove` delete it there);
 * `connector remove` deletes it here.
 */
export const ENTRA_TOKEN_OWNER = 'entra-refresh-token' as const;

export interface EntraUserToken {
  refreshToken: string;
  /** The user's home tenant (`tid`): the OBO authority. */
  tid: string;
  /** The user's object id in that tenant (`oid`). */
  oid: string;
  /** The app registration the token was issued to. */
  clientId: string;
}

export interface StoredEntraToken extends EntraUserToken {
  secretId: string;
  connectionId: string;
}

type VaultServices = Pick<Services, 'vault'>;

/** Stores (or replaces) the user's token for this connection. */
export async function saveEntraToken(s: VaultServices, t: TenantCtx, userId: string, connectionId: string, token: EntraUserToken): Promise<void> {
  await saveIdpUserToken(s, t, ENTRA_TOKEN_OWNER, userId, connectionId, token);
}

/** The user's most recently stored Entra token (any Entra connection of the tenant), or null. */
export async function loadEntraToken(s: VaultServices, t: TenantCtx, userId: string): Promise<StoredEntraToken | null> {
  const stored = await loadIdpUserToken<EntraUserToken>(s, t, ENTRA_TOKEN_OWNER, userId);
  return stored && { ...stored.value, secretId: stored.secretId, connectionId: stored.connectionId };
}

/** Entra rotated the refresh token: the new one replaces the old (the old one may stop working at any time). */
export async function rotateEntraToken(s: VaultServices, t: TenantCtx, stored: StoredEntraToken, refreshToken: string): Promise<void> {
  const { secretId: _s, connectionId: _c, ...token } = stored;
  await replaceIdpUserToken(s, t, stored.secretId, { ...token, refreshToken });
}

/** Deletes stored Entra tokens: of one user, of one connection, or all (`connector remove`). */
export async function deleteEntraTokens(t: TenantCtx, where: { userId?: string; connectionId?: string; secretId?: string } = {}): Promise<number> {
  return deleteIdpUserTokens(t, { ...where, kinds: [ENTRA_TOKEN_OWNER] });
}
