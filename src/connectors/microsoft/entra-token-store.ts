import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * The user's Entra refresh token, kept in the vault per (tenant, user, SSO connection). The vault row names the user
 * (`userId`), so the revocation hub's vault store deletes it with every other per-user credential when SCIM
 * deactivates or deletes the user; logout, `connector remove` and `idp remove` delete it here.
 */
export const ENTRA_TOKEN_OWNER = 'entra-refresh-token';

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
  const value = JSON.stringify(token);
  const rows = await t.db.vaultSecret.findMany({ where: { ownerKind: ENTRA_TOKEN_OWNER, ownerId: connectionId, userId }, select: { id: true }, orderBy: { createdAt: 'asc' } });
  if (rows.length === 0) {
    await s.vault.put(t, { kind: ENTRA_TOKEN_OWNER, id: connectionId, userId }, value);
    return;
  }
  await s.vault.replace(t, rows[0]!.id, value);
  // Two logins racing each created one: keep one.
  if (rows.length > 1) await t.db.vaultSecret.deleteMany({ where: { id: { in: rows.slice(1).map((r) => r.id) } } });
}

/** The user's most recently stored Entra token (any Entra connection of the tenant), or null. */
export async function loadEntraToken(s: VaultServices, t: TenantCtx, userId: string): Promise<StoredEntraToken | null> {
  const row = await t.db.vaultSecret.findFirst({ where: { ownerKind: ENTRA_TOKEN_OWNER, userId }, orderBy: { updatedAt: 'desc' }, select: { id: true, ownerId: true } });
  if (!row) return null;
  const token = JSON.parse(await s.vault.getString(t, row.id)) as EntraUserToken;
  return { ...token, secretId: row.id, connectionId: row.ownerId };
}

/** Entra rotated the refresh token: the new one replaces the old (the old one may stop working at any time). */
export async function rotateEntraToken(s: VaultServices, t: TenantCtx, stored: StoredEntraToken, refreshToken: string): Promise<void> {
  const { secretId: _s, connectionId: _c, ...token } = stored;
  await s.vault.replace(t, stored.secretId, JSON.stringify({ ...token, refreshToken }));
}

/** Deletes stored Entra tokens: of one user (logout), of one connection (`idp remove`), or all (`connector remove`). */
export async function deleteEntraTokens(t: TenantCtx, where: { userId?: string; connectionId?: string; secretId?: string } = {}): Promise<number> {
  const { count } = await t.db.vaultSecret.deleteMany({
    where: { ownerKind: ENTRA_TOKEN_OWNER, ...(where.userId && { userId: where.userId }), ...(where.connectionId && { ownerId: where.connectionId }), ...(where.secretId && { id: where.secretId }) },
  });
  return count;
}
