import type { RevocationStore } from '../revocation/revocation-hub.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * Ends grants and everything issued under them (codes, refresh tokens, device codes) and tells every node, so JWT
 * access tokens of those grants stop verifying within the bus latency.
 */
export async function revokeGrants(s: Pick<Services, 'bus'>, t: TenantCtx, grantIds: string[]): Promise<number> {
  if (grantIds.length === 0) return 0;
  await t.db.oidcPayload.deleteMany({ where: { grantId: { in: grantIds } } });
  const { count } = await t.db.oidcPayload.deleteMany({ where: { model: 'Grant', id: { in: grantIds } } });
  for (const grantId of grantIds) await s.bus.publish({ type: 'grant.revoked', tenantId: t.id, grantId });
  return count;
}

/** The user's grants, optionally only those of one client (consent withdrawal from "connected apps"). */
export async function findUserGrants(t: TenantCtx, userId: string, clientId?: string): Promise<string[]> {
  const rows = await t.db.oidcPayload.findMany({
    where: { model: 'Grant', accountId: userId, ...(clientId ? { payload: { path: ['clientId'], equals: clientId } } : {}) },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/** Revocation-hub store: a deprovisioned user loses every grant, token, code and provider session. */
export function oauthRevocationStore(s: Pick<Services, 'bus'>): RevocationStore {
  return {
    name: 'oauth',
    async revokeUser(t, userId) {
      const grants = await findUserGrants(t, userId);
      const revoked = await revokeGrants(s, t, grants);
      await t.db.oidcPayload.deleteMany({ where: { accountId: userId } });
      return revoked;
    },
  };
}
