import type { Prisma } from '../generated/prisma/client.js';
import { hashToken } from '../lib/secrets.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

const TTL_MS = 10 * 60_000;

/**
 * Pending browser logins (OIDC state + nonce + PKCE verifier, SAML AuthnRequest id), keyed by the SHA-256 of an
 * unguessable value the browser carries (`state`, the request ID). The row names its tenant, so the shared
 * PUBLIC_URL/oidc/callback recovers the tenant from it; consuming deletes it, so each value works once, on any node.
 */
export async function saveLoginState(s: Services, t: TenantCtx, connectionId: string, key: string, data: Prisma.InputJsonObject, ttlMs = TTL_MS): Promise<void> {
  const now = s.clock.now();
  await t.db.loginState.create({
    data: { id: hashToken(key), tenantId: t.id, connectionId, data, createdAt: now, expiresAt: new Date(now.getTime() + ttlMs) },
  });
}

export interface LoginStateRow {
  tenantId: string;
  connectionId: string;
  data: Record<string, unknown>;
}

/**
 * Atomically takes the state of tenant `t` (single use). Null if unknown, another tenant's (which stays untouched: a
 * request to one tenant never spends another's pending login), already used, or expired.
 */
export async function consumeLoginState(s: Services, t: TenantCtx, key: string): Promise<LoginStateRow | null> {
  const id = hashToken(key);
  const row = await t.db.loginState.findUnique({ where: { id } });
  if (!row) return null;
  const { count } = await t.db.loginState.deleteMany({ where: { id } });
  if (count !== 1 || row.expiresAt <= s.clock.now()) return null;
  return { tenantId: row.tenantId, connectionId: row.connectionId, data: row.data as Record<string, unknown> };
}

/** Reads without consuming (node-saml checks InResponseTo before it removes it). */
export async function peekLoginState(s: Services, t: TenantCtx, key: string): Promise<LoginStateRow | null> {
  const row = await t.db.loginState.findUnique({ where: { id: hashToken(key) } });
  if (!row || row.expiresAt <= s.clock.now()) return null;
  return { tenantId: row.tenantId, connectionId: row.connectionId, data: row.data as Record<string, unknown> };
}
