import type { Clock } from '../../../src/lib/clock.js';
import { successorRecord } from '../../../src/oauth/refresh-rotation.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';

/** What the adapter writes beside a new refresh token (payload-statements.ts), written here through `db`. */
export async function recordSuccessor(t: TenantCtx, clock: Clock, successorId: string, grantId: string | undefined) {
  const r = successorRecord(t, clock, successorId, grantId);
  if (!r) return;
  await t.db.oidcPayload.upsert({
    where: { tenantId_model_id: { tenantId: t.id, model: 'RefreshSuccessor', id: r.id } },
    create: { tenantId: t.id, model: 'RefreshSuccessor', id: r.id, grantId: r.grantId, payload: { successor: r.successor }, expiresAt: r.expiresAt },
    update: { payload: { successor: r.successor }, expiresAt: r.expiresAt },
  });
}
