import { randomBytes } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.js';
import { clientNetwork, RateLimiter, rateRules } from '../http/rate-limit.js';
import { hashToken } from '../lib/secrets.js';
import type { Services } from '../services.js';

const TTL_MS = 10 * 60_000;

/**
 * A new install-flow `state` (256 random bits; RFC 6749 §10.12): only its SHA-256 keys the stored data, which holds
 * the hash of the browser's binding nonce (sso/browser-binding.ts) so a callback URL replayed in another browser fails.
 */
export async function saveOnboardingState(s: Services, data: Prisma.InputJsonObject): Promise<string> {
  const state = randomBytes(32).toString('base64url');
  const now = s.clock.now();
  await s.db.onboardingState.create({ data: { id: hashToken(state), data, createdAt: now, expiresAt: new Date(now.getTime() + TTL_MS) } });
  return state;
}

/**
 * Counts an install start by someone not signed in (each stores a state row): false once the client network or the
 * deployment is over its limit, across nodes. The second leg of a flow (from a consumed state) is not counted.
 */
export async function installStartAllowed(s: Services, ip: string | undefined): Promise<boolean> {
  const verdict = await new RateLimiter(s.db, s.clock, s.rateView).hit([[rateRules.installStartNet, clientNetwork(ip)], [rateRules.installStartAll, 'all']]);
  return verdict.ok;
}

/** Takes the state once (deleted whatever happens next); null when unknown, used or expired. */
export async function consumeOnboardingState(s: Services, state: string | null): Promise<Record<string, unknown> | null> {
  if (!state || state.length > 100) return null;
  const id = hashToken(state);
  const row = await s.db.onboardingState.findUnique({ where: { id } });
  if (!row) return null;
  const { count } = await s.db.onboardingState.deleteMany({ where: { id } });
  if (count !== 1 || row.expiresAt <= s.clock.now()) return null;
  return row.data as Record<string, unknown>;
}
