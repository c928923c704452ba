import type { Db } from '../db/open-database.js';
import type { Clock } from '../lib/clock.js';

/**
 * Abandoned connect flows (the user never came back from the upstream's sign-in): their state rows and PKCE verifier
 * secrets are deleted once expired. System-wide by design, like the other cleanup jobs.
 */
export async function deleteExpiredConnectStates(db: Db, clock: Clock): Promise<number> {
  const expired = await db.upstreamConnectState.findMany({ where: { expiresAt: { lt: clock.now() } }, select: { id: true, verifierId: true }, take: 1_000 });
  if (expired.length === 0) return 0;
  await db.vaultSecret.deleteMany({ where: { id: { in: expired.map((e) => e.verifierId) }, ownerKind: 'upstream-connect-verifier' } });
  return (await db.upstreamConnectState.deleteMany({ where: { id: { in: expired.map((e) => e.id) } } })).count;
}
