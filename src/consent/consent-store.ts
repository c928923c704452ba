import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { findUserGrants, revokeGrants } from '../oauth/revoke-grants.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export interface ConsentRecord {
  clientId: string;
  toolNames: string[];
  grantedAt: Date;
}

const names = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The user's live consent for a client, or null (never given, or withdrawn). */
export async function findConsent(t: TenantCtx, userId: string, clientId: string): Promise<ConsentRecord | null> {
  const row = await t.db.consent.findFirst({ where: { userId, clientId, revokedAt: null } });
  return row ? { clientId: row.clientId, toolNames: names(row.toolNames), grantedAt: row.grantedAt } : null;
}

/**
 * Whether a remembered consent still covers what the user is about to get. Consent is to the admin-curated profile,
 * so tools approved later join silently — unless the tenant asks for re-consent on new tools.
 */
export function consentCovers(consent: ConsentRecord | null, toolNames: string[], reconsentOnNewTools: boolean): boolean {
  if (!consent) return false;
  if (!reconsentOnNewTools) return true;
  const seen = new Set(consent.toolNames);
  return toolNames.every((n) => seen.has(n));
}

export async function recordConsent(t: TenantCtx, clock: Clock, userId: string, clientId: string, toolNames: string[]) {
  const now = clock.now();
  await t.db.consent.upsert({
    where: { tenantId_userId_clientId: { tenantId: t.id, userId, clientId } },
    create: { id: newId('cns'), tenantId: t.id, userId, clientId, toolNames, grantedAt: now },
    update: { toolNames, grantedAt: now, revokedAt: null },
  });
}

/** "Connected apps": the clients this user has consented to. */
export async function listConsents(t: TenantCtx, userId: string): Promise<ConsentRecord[]> {
  const rows = await t.db.consent.findMany({ where: { userId, revokedAt: null }, orderBy: { grantedAt: 'desc' } });
  return rows.map((r) => ({ clientId: r.clientId, toolNames: names(r.toolNames), grantedAt: r.grantedAt }));
}

/** Withdraws consent: the client's grants for this user end, with every token issued under them, on every node. */
export async function withdrawConsent(s: Pick<Services, 'bus' | 'clock'>, t: TenantCtx, userId: string, clientId: string) {
  const { count } = await t.db.consent.updateMany({ where: { userId, clientId, revokedAt: null }, data: { revokedAt: s.clock.now() } });
  const revokedGrants = await revokeGrants(s, t, await findUserGrants(t, userId, clientId));
  return { withdrawn: count > 0, revokedGrants };
}
