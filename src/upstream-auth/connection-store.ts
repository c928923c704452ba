import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/** What the vault holds for one connection: never logged, never returned by any API. */
export interface StoredTokens {
  access_token: string;
  refresh_token?: string;
  token_type: string;
  scope?: string;
}

export const CONNECTION_SECRET_KIND = 'upstream-connection';

const expiry = (s: Pick<Services, 'clock'>, tokens: OAuthTokens) =>
  typeof tokens.expires_in === 'number' && tokens.expires_in > 0 ? new Date(s.clock.now().getTime() + tokens.expires_in * 1000) : null;

const toStored = (tokens: OAuthTokens): StoredTokens => ({
  access_token: tokens.access_token,
  token_type: tokens.token_type,
  ...(tokens.refresh_token && { refresh_token: tokens.refresh_token }),
  ...(tokens.scope && { scope: tokens.scope }),
});

/**
 * Stores a user's tokens for an upstream after a completed connect flow: a new connection, or the existing one
 * replaced (reconnect) with its version bumped, so every node's cache and pooled session drop the old tokens.
 * The secret carries the user id: the vault's own revocation store deletes it on deprovisioning too.
 */
export async function saveConnection(s: Services, t: TenantCtx, upstreamId: string, userId: string, tokens: OAuthTokens): Promise<void> {
  const plain = JSON.stringify(toStored(tokens));
  const now = s.clock.now();
  const existing = await t.db.upstreamConnection.findFirst({ where: { upstreamId, userId } });
  if (existing) {
    await s.vault.replace(t, existing.secretId, plain);
    await t.db.upstreamConnection.updateMany({
      where: { id: existing.id },
      data: { status: 'connected', statusReason: null, accessExpiresAt: expiry(s, tokens), scope: tokens.scope ?? null, version: { increment: 1 }, refreshLeaseUntil: null, connectedAt: now, refreshedAt: null },
    });
  } else {
    const id = newId('upc');
    const secretId = await s.vault.put(t, { kind: CONNECTION_SECRET_KIND, id, userId }, plain);
    try {
      await t.db.upstreamConnection.create({ data: { id, tenantId: t.id, upstreamId, userId, secretId, accessExpiresAt: expiry(s, tokens), scope: tokens.scope ?? null, connectedAt: now } });
    } catch (err) {
      // The same user finished two flows at once: the other one's row stands; this one's secret is dropped.
      await s.vault.remove(t, secretId);
      throw err;
    }
  }
  await s.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId, upstreamId });
}

/** New tokens from a refresh, written only if nobody else wrote since `version` (then the lease is released too). */
export async function saveRefreshed(s: Services, t: TenantCtx, conn: { id: string; secretId: string; version: number }, tokens: OAuthTokens): Promise<boolean> {
  await s.vault.replace(t, conn.secretId, JSON.stringify(toStored(tokens)));
  const { count } = await t.db.upstreamConnection.updateMany({
    where: { id: conn.id, version: conn.version },
    data: { accessExpiresAt: expiry(s, tokens), scope: tokens.scope ?? undefined, version: { increment: 1 }, refreshLeaseUntil: null, refreshedAt: s.clock.now() },
  });
  return count === 1;
}

export async function readTokens(s: Services, t: TenantCtx, secretId: string): Promise<StoredTokens> {
  return JSON.parse(await s.vault.getString(t, secretId)) as StoredTokens;
}

/** A refresh was refused for good: the user has to connect again, and is told so on their next call. */
export async function markNeedsReconnection(s: Services, t: TenantCtx, conn: { id: string; upstreamId: string; userId: string }, reason: string): Promise<void> {
  await t.db.upstreamConnection.updateMany({ where: { id: conn.id }, data: { status: 'needs_reconnection', statusReason: reason.slice(0, 200), refreshLeaseUntil: null } });
  await s.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId: conn.userId, upstreamId: conn.upstreamId });
}

/** A user's connections (the connected-apps page), or everyone's / one user's for the admin: never any token. */
export async function listConnections(t: TenantCtx, filter: { userId?: string } = {}) {
  const rows = await t.db.upstreamConnection.findMany({
    where: filter.userId ? { userId: filter.userId } : {},
    include: { upstream: { select: { name: true, url: true } } },
    orderBy: [{ userId: 'asc' }, { connectedAt: 'asc' }],
  });
  return rows.map((r) => ({
    id: r.id,
    userId: r.userId,
    upstream: r.upstream.name,
    upstreamUrl: r.upstream.url,
    status: r.status as 'connected' | 'needs_reconnection',
    ...(r.statusReason && { statusReason: r.statusReason }),
    scope: r.scope,
    connectedAt: r.connectedAt,
    refreshedAt: r.refreshedAt,
    accessExpiresAt: r.accessExpiresAt,
  }));
}
