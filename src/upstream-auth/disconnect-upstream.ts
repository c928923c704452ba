import type { RevocationStore } from '../revocation/revocation-hub.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { readTokens, type StoredTokens } from './connection-store.js';
import { revokeAtUpstream } from './revoke-at-upstream.js';
import { loadOAuthClient } from './upstream-oauth-client.js';

interface Removed {
  upstreamId: string;
  tokens: StoredTokens | null;
}

/** Deletes connections (row and vault secret) first, so they are dead here at once; the upstream is told after. */
async function removeConnections(s: Services, t: TenantCtx, where: { userId: string; upstreamId?: string }): Promise<Removed[]> {
  const rows = await t.db.upstreamConnection.findMany({ where });
  const removed: Removed[] = [];
  for (const row of rows) {
    const tokens = await readTokens(s, t, row.secretId).catch(() => null);
    const { count } = await t.db.upstreamConnection.deleteMany({ where: { id: row.id } });
    await s.vault.remove(t, row.secretId);
    if (count === 1) removed.push({ upstreamId: row.upstreamId, tokens });
    await s.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId: row.userId, upstreamId: row.upstreamId });
  }
  s.upstreams.dropUserSessions(where);
  return removed;
}

/** RFC 7009 at each upstream that offers it, in parallel; failures are logged (the tokens are already gone here). */
async function revokeRemoved(s: Services, t: TenantCtx, userId: string, removed: Removed[]): Promise<number> {
  const results = await Promise.all(
    removed.map(async ({ upstreamId, tokens }) => {
      if (!tokens) return false;
      try {
        return await revokeAtUpstream(s.egress, await loadOAuthClient(s, t, upstreamId), tokens);
      } catch (err) {
        s.logger.warn({ tenantId: t.id, userId, upstreamId, err: String(err).slice(0, 200) }, 'upstream token revocation failed');
        return false;
      }
    }),
  );
  return results.filter(Boolean).length;
}

/** The user's "Disconnect" (connected-apps page) or an admin's: ends the connection here and at the upstream. */
export async function disconnectUpstream(s: Services, t: TenantCtx, userId: string, upstreamId: string): Promise<{ removed: boolean; revokedAtUpstream: boolean }> {
  const removed = await removeConnections(s, t, { userId, upstreamId });
  if (removed.length === 0) return { removed: false, revokedAtUpstream: false };
  return { removed: true, revokedAtUpstream: (await revokeRemoved(s, t, userId, removed)) > 0 };
}

/** Disconnect by upstream name, audited (the connected-apps page and its JSON twin). */
export async function disconnectByName(s: Services, t: TenantCtx, userId: string, upstreamName: string, actor: { kind: 'user'; id: string }) {
  const up = await t.db.upstream.findFirst({ where: { name: upstreamName }, select: { id: true } });
  const result = up ? await disconnectUpstream(s, t, userId, up.id) : { removed: false, revokedAtUpstream: false };
  if (up && result.removed) {
    await s.audit.record(t, { actor, action: 'upstream.connection.disconnect', target: { kind: 'upstream', id: up.id }, outcome: 'success', detail: { revokedAtUpstream: result.revokedAtUpstream } });
  }
  return result;
}

/**
 * Revocation-hub store: a deprovisioned user's upstream connections end with the same immediacy as their grants
 * (deleted before the hub returns), then are revoked at the upstreams that offer RFC 7009. Registered before the
 * vault's own store, which would otherwise delete the tokens before they could be revoked upstream.
 */
export function upstreamConnectionsRevocationStore(services: () => Services): RevocationStore {
  return {
    name: 'upstream-connections',
    async revokeUser(t, userId) {
      const s = services();
      const removed = await removeConnections(s, t, { userId });
      await revokeRemoved(s, t, userId, removed);
      return removed.length;
    },
  };
}
