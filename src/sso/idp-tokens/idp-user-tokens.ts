import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * What a user's SSO sign-in leaves for the gateway to act with later, kept in the vault per (tenant, user, SSO
 * connection, kind): the Microsoft connector's Entra refresh token (decision 0020), the ID-JAG upstreams' IdP
 * tokens (decision 0027) and the OIDC ID token our sign-out hands back to the IdP as `id_token_hint`. The vault row names the user (`userId`), so the revocation hub's vault store deletes it
 * with every other per-user credential on deprovisioning; logout, IdP logout and `idp remove` delete it here.
 */
export const IDP_TOKEN_KINDS = ['entra-refresh-token', 'idp-sign-in', 'oidc-id-token'] as const;
/** The ID token of the user's last OIDC sign-in: the `id_token_hint` of RP-initiated logout (logout/idp-logout-url.ts). */
export const OIDC_ID_TOKEN = 'oidc-id-token' as const;
export type IdpTokenKind = (typeof IDP_TOKEN_KINDS)[number];

type VaultServices = Pick<Services, 'vault'>;

export interface StoredIdpToken<T> {
  value: T;
  secretId: string;
  connectionId: string;
}

/** Stores (or replaces) the user's token of `kind` for this connection. */
export async function saveIdpUserToken(s: VaultServices, t: TenantCtx, kind: IdpTokenKind, userId: string, connectionId: string, value: unknown): Promise<void> {
  const plain = JSON.stringify(value);
  const rows = await t.db.vaultSecret.findMany({ where: { ownerKind: kind, ownerId: connectionId, userId }, select: { id: true }, orderBy: { createdAt: 'asc' } });
  if (rows.length === 0) {
    await s.vault.put(t, { kind, id: connectionId, userId }, plain);
    return;
  }
  await s.vault.replace(t, rows[0]!.id, plain);
  // Two logins racing each created one: keep one.
  if (rows.length > 1) await t.db.vaultSecret.deleteMany({ where: { id: { in: rows.slice(1).map((r) => r.id) } } });
}

/** The user's most recently stored token of `kind` (of one connection, or of any), or null. */
export async function loadIdpUserToken<T>(s: VaultServices, t: TenantCtx, kind: IdpTokenKind, userId: string, connectionId?: string): Promise<StoredIdpToken<T> | null> {
  const row = await t.db.vaultSecret.findFirst({
    where: { ownerKind: kind, userId, ...(connectionId && { ownerId: connectionId }) },
    orderBy: { updatedAt: 'desc' },
    select: { id: true, ownerId: true },
  });
  if (!row) return null;
  return { value: JSON.parse(await s.vault.getString(t, row.id)) as T, secretId: row.id, connectionId: row.ownerId };
}

/** Replaces a stored token in place (a rotated refresh token, a fresh ID token). */
export async function replaceIdpUserToken(s: VaultServices, t: TenantCtx, secretId: string, value: unknown): Promise<void> {
  await s.vault.replace(t, secretId, JSON.stringify(value));
}

/**
 * Deletes stored tokens: of the given kinds (default: all), of one user (logout), of one connection (`idp remove`),
 * or one row. Signing out, or the IdP ending the session, ends every sign-in the gateway acts with.
 */
export async function deleteIdpUserTokens(
  t: TenantCtx,
  where: { kinds?: readonly IdpTokenKind[]; userId?: string; connectionId?: string; secretId?: string } = {},
): Promise<number> {
  const { count } = await t.db.vaultSecret.deleteMany({
    where: {
      ownerKind: { in: [...(where.kinds ?? IDP_TOKEN_KINDS)] },
      ...(where.userId && { userId: where.userId }),
      ...(where.connectionId && { ownerId: where.connectionId }),
      ...(where.secretId && { id: where.secretId }),
    },
  });
  return count;
}
