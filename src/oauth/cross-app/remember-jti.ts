import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * Single use of an ID-JAG `jti` across every node (EMA §7.4.2, RFC 7523 §3 item 7): insert-or-fail on the
 * ReplayGuard primary key, keyed (tenant, iss, sub, jti). The row stays until the ID-JAG could no longer validate
 * anyway; the cleanup job removes it after. Returns false when the jti was already used. Other single-use JWTs
 * (Global Token Revocation requests) pass their own `scope`, so a jti of one kind never blocks the other.
 */
export async function rememberJti(s: Services, t: TenantCtx, iss: string, sub: string, jti: string, keepUntil: Date, scope = 'id-jag'): Promise<boolean> {
  try {
    await s.db.replayGuard.create({
      data: { scope, key: JSON.stringify([t.id, iss, sub, jti]), tenantId: t.id, expiresAt: keepUntil, createdAt: s.clock.now() },
    });
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') return false;
    throw err;
  }
}
