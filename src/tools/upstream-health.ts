import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/** A short, single-line reason for the admin (never headers or bodies: error messages name hosts and statuses). */
export const healthReason = (err: unknown) => String((err as Error)?.message ?? err).replace(/\s+/g, ' ').slice(0, 200);

/**
 * An upstream's availability as the admin console shows it on every node (`Upstream.unavailableSince`): circuit
 * breakers are per node and in memory, so their transitions — and refreshes — are written to the row. Only
 * transitions write (the breaker opening, a tripped breaker closing), never the ordinary call, which stays lean
 * (decision 0009). A failed write is logged, never the caller's failure.
 */
export interface UpstreamHealth {
  down(t: TenantCtx, upstreamId: string, reason: string): Promise<void>;
  up(t: TenantCtx, upstreamId: string): Promise<void>;
}

export function upstreamHealth(clock: Clock, logger: Pick<Logger, 'warn'>): UpstreamHealth {
  const guard = (what: string, t: TenantCtx, upstreamId: string, p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => logger.warn({ tenantId: t.id, upstreamId, err: healthReason(err) }, `could not record upstream ${what}`),
    );
  return {
    down: (t, upstreamId, reason) =>
      guard('down', t, upstreamId, (async () => {
        // The first failure's time is kept ("down since"); the reason is the latest.
        await t.db.upstream.updateMany({ where: { id: upstreamId, unavailableSince: null }, data: { unavailableSince: clock.now() } });
        await t.db.upstream.updateMany({ where: { id: upstreamId }, data: { lastError: reason } });
      })()),
    up: (t, upstreamId) =>
      guard('up', t, upstreamId, t.db.upstream.updateMany({ where: { id: upstreamId, unavailableSince: { not: null } }, data: { unavailableSince: null, lastError: null } })),
  };
}
