import type { Db } from '../../db/open-database.js';
import type { Clock } from '../../lib/clock.js';

/**
 * Deletes SSO traces older than the retention period (`SSO_TRACE_RETENTION_DAYS`, default 30; issue 8 §6): a trace
 * is for the admin who follows up a failed login soon after, not a long-term record of who tried to sign in (the
 * audit log keeps the `sso.login` failure with its trace id). System-wide by design, like cleanup-expired.
 */
export async function deleteOldSsoTraces(db: Db, clock: Clock, retentionDays: number) {
  const cutoff = new Date(clock.now().getTime() - retentionDays * 86_400_000);
  const { count } = await db.ssoTrace.deleteMany({ where: { createdAt: { lt: cutoff } } });
  return { ssoTraces: count };
}
