import type { Clock } from '../../../src/lib/clock.js';
import { SUCCESSOR_KEY } from '../../../src/oauth/payload-statements.js';
import { successorRecord } from '../../../src/oauth/refresh-rotation.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';

/**
 * What the adapter writes with a new refresh token (payload-statements.ts, decision 0052): the successor's id in the
 * consumed token's own row, written here through `db`. `_clock` is kept so call sites read as the rotation's order.
 */
export async function recordSuccessor(t: TenantCtx, _clock: Clock, successorId: string, grantId: string | undefined) {
  const r = successorRecord(t, successorId, grantId);
  if (!r) return;
  const row = await t.db.oidcPayload.findFirst({ where: { model: 'RefreshToken', id: r.id } });
  if (!row) return;
  await t.db.oidcPayload.updateMany({
    where: { model: 'RefreshToken', id: r.id },
    data: { payload: { ...(row.payload as Record<string, unknown>), [SUCCESSOR_KEY]: r.successor } },
  });
}

/** The successor a consumed token's row names, as `{ successor }`, or undefined. */
export function successorIn(payload: unknown): { successor: unknown } | undefined {
  const p = payload as Record<string, unknown> | null | undefined;
  return p && SUCCESSOR_KEY in p ? { successor: p[SUCCESSOR_KEY] } : undefined;
}
