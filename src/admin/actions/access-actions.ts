import { z } from 'zod';
import { withdrawConsent } from '../../consent/consent-store.js';
import { notFound } from '../../lib/errors.js';
import { removeClient } from '../../oauth/manage-clients.js';
import { findUserGrants, revokeGrants } from '../../oauth/revoke-grants.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { defineAction } from './admin-action.js';

const userId = z.string().trim().min(1, 'userId: required').max(100);
const clientId = z.string().trim().min(1, 'clientId: required').max(300);

async function existingUser(t: TenantCtx, id: string) {
  const user = await t.db.user.findFirst({ where: { id }, select: { id: true } });
  if (!user) throw notFound(`No user ${id}`);
  return user;
}

/** One-click revoke of one user's grant to one client: the consent is withdrawn and its tokens end on every node. */
export const revokeUserClientAction = defineAction({
  name: 'access.user-client.revoke',
  targetKind: 'user',
  sensitive: false,
  input: z.object({ userId, clientId }),
  run: async (s, t, i) => {
    await existingUser(t, i.userId);
    const result = await withdrawConsent(s, t, i.userId, i.clientId);
    // Grants without a recorded consent (pre-registered clients) end too.
    const extra = await revokeGrants(s, t, await findUserGrants(t, i.userId, i.clientId));
    return { id: i.userId, clientId: i.clientId, withdrawn: result.withdrawn, revokedGrants: result.revokedGrants + extra };
  },
  detail: (i, r) => ({ clientId: i.clientId, revokedGrants: r.revokedGrants }),
});

/** Removes a client for everyone (`client remove`): every grant and token it holds ends. */
export const removeClientAction = defineAction({
  name: 'oauth.client.remove',
  targetKind: 'oauth-client',
  sensitive: false,
  input: z.object({ clientId }),
  run: (s, t, i) => removeClient(s, t, i.clientId),
});

/**
 * "Revoke everything" for a user: sessions, grants, tokens, stored upstream credentials, through the revocation hub
 * (the same path as a SCIM deprovisioning). The user stays active and may sign in again; sensitive (re-auth).
 */
export const revokeUserEverythingAction = defineAction({
  name: 'access.user.revoke-all',
  targetKind: 'user',
  sensitive: true,
  input: z.object({ userId }),
  run: async (s, t, i, actor) => {
    await existingUser(t, i.userId);
    const result = await s.revocation.revokeUser(t, i.userId, 'admin.revoked', actor.kind === 'user' ? { kind: 'user', id: actor.id } : { kind: 'admin-cli' });
    return { id: i.userId, ended: result.ended };
  },
  detail: (_i, r) => ({ ended: r.ended }),
});
