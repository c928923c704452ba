import type { Db } from '../db/open-database.js';
import type { Clock } from '../lib/clock.js';

/** Deletes rows whose lifetime ended (a day of grace keeps recent ones for investigations). System-wide by design. */
export async function cleanupExpired(db: Db, clock: Clock) {
  const now = clock.now();
  const graceCutoff = new Date(now.getTime() - 24 * 3_600_000);
  const [sessions, replay, loginStates, oidc] = await Promise.all([
    db.session.deleteMany({ where: { expiresAt: { lt: graceCutoff } } }),
    db.replayGuard.deleteMany({ where: { expiresAt: { lt: now } } }),
    db.loginState.deleteMany({ where: { expiresAt: { lt: now } } }),
    db.oidcPayload.deleteMany({ where: { expiresAt: { lt: graceCutoff } } }),
  ]);
  await db.onboardingState.deleteMany({ where: { expiresAt: { lt: now } } });
  return { sessions: sessions.count, replay: replay.count, loginStates: loginStates.count, oidc: oidc.count };
}
