import { z } from 'zod';
import { servedUrl } from '../../http/served-url.js';
import { createScimToken, revokeScimToken } from '../../scim/scim-tokens.js';
import { defineAction } from './admin-action.js';

const label = z.string().trim().max(200, 'label: at most 200 characters').optional().transform((v) => v || undefined);
const tokenId = z.string().regex(/^stk_[A-Za-z0-9_-]{1,100}$/, 'id: a SCIM token id (stk_…)');

/** `scim-token create` / console "Create token": the token is in the result once and never again. */
export const createScimTokenAction = defineAction({
  name: 'scim-token.create',
  targetKind: 'scim-token',
  // A new SCIM token can create and deactivate every user of the tenant.
  sensitive: true,
  input: z.object({ label, connectionId: z.string().trim().max(100).optional().transform((v) => v || undefined) }),
  // The base URL is the one the server recorded (src/http/served-url.ts), not this process's PUBLIC_URL.
  run: async (s, t, i) => createScimToken(t, await servedUrl(s.db, s.config.publicUrl), i.label, i.connectionId),
  detail: (i) => ({ label: i.label ?? null, connectionId: i.connectionId ?? null }),
});

export const revokeScimTokenAction = defineAction({
  name: 'scim-token.revoke',
  targetKind: 'scim-token',
  sensitive: false,
  input: z.object({ id: tokenId }),
  run: async (s, t, i) => {
    const result = await revokeScimToken(t, i.id, s.clock);
    await s.bus.publish({ type: 'scim-token.revoked', tenantId: t.id, tokenId: result.id });
    return result;
  },
});
