import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { hashToken, newSecretToken } from '../lib/secrets.js';
import type { RevocationStore } from '../revocation/revocation-hub.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export interface SessionPolicy {
  idleMs: number;
  absoluteMs: number;
}

export const defaultSessionPolicy: SessionPolicy = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };

export interface NewSession {
  userId: string;
  connectionId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  data?: Record<string, string | number | boolean | null>;
}

/** Server-side browser sessions. The cookie carries a random token; the database keeps only its hash. */
export class SessionStore implements RevocationStore {
  readonly name = 'sessions';

  constructor(
    private readonly clock: Clock,
    private readonly policy: SessionPolicy = defaultSessionPolicy,
  ) {}

  async create(t: TenantCtx, s: NewSession): Promise<{ id: string; token: string; expiresAt: Date }> {
    const now = this.clock.now();
    const token = newSecretToken('sbs');
    const id = newId('ses');
    const expiresAt = new Date(now.getTime() + this.policy.absoluteMs);
    await t.db.session.create({
      data: {
        id,
        tenantId: t.id,
        userId: s.userId,
        tokenHash: hashToken(token),
        connectionId: s.connectionId ?? null,
        data: s.data ?? {},
        createdAt: now,
        lastSeenAt: now,
        idleExpiresAt: new Date(Math.min(now.getTime() + this.policy.idleMs, expiresAt.getTime())),
        expiresAt,
        ip: s.ip ?? null,
        userAgent: s.userAgent?.slice(0, 512) ?? null,
      },
    });
    return { id, token, expiresAt };
  }

  /**
   * The live session for a cookie token, with its user, or null: unknown, revoked, idle or absolutely expired,
   * the user inactive, or the user revoked after the session began. A hit slides the idle deadline.
   */
  async resolve(t: TenantCtx, token: string) {
    const now = this.clock.now();
    const session = await t.db.session.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
    if (!session || session.revokedAt) return null;
    if (session.expiresAt <= now || session.idleExpiresAt <= now) return null;
    const user = session.user;
    if (!user.active || (user.revokedBefore && user.revokedBefore >= session.createdAt)) return null;
    const idleExpiresAt = new Date(Math.min(now.getTime() + this.policy.idleMs, session.expiresAt.getTime()));
    // Sliding the idle deadline costs a write; do it at most once a minute per session.
    if (idleExpiresAt.getTime() - session.idleExpiresAt.getTime() > 60_000) {
      await t.db.session.updateMany({ where: { id: session.id }, data: { lastSeenAt: now, idleExpiresAt } });
    }
    return session;
  }

  async revoke(t: TenantCtx, sessionId: string): Promise<void> {
    await t.db.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: this.clock.now() } });
  }

  async revokeUser(t: TenantCtx, userId: string): Promise<number> {
    const { count } = await t.db.session.updateMany({
      where: { userId, revokedAt: null },
      data: { revokedAt: this.clock.now() },
    });
    return count;
  }
}
