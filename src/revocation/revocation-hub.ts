import type { Logger } from 'pino';
import type { AuditLog, ActorKind } from '../audit/audit-log.js';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { EventBus } from './event-bus.js';

/** Something a user can hold that must end when they are deprovisioned (sessions, OAuth grants, vault credentials). */
export interface RevocationStore {
  readonly name: string;
  revokeUser(t: TenantCtx, userId: string): Promise<number>;
}

export type RevocationReason =
  | 'scim.deactivated'
  | 'scim.deleted'
  | 'sso.refused'
  | 'admin.revoked'
  | 'user.deleted'
  | (string & {});

export interface RevocationResult {
  userId: string;
  reason: RevocationReason;
  ended: Record<string, number>;
}

/**
 * One function ends everything a user holds in a tenant. Each capability registers its store; the hub stamps the
 * user's `revokedBefore` (so anything issued earlier is dead even if a store missed it), records why in the audit
 * log, and tells every node through the event bus so their caches drop the user within a second.
 */
export class RevocationHub {
  readonly #stores: RevocationStore[] = [];

  constructor(
    private readonly audit: AuditLog,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  register(store: RevocationStore): void {
    if (this.#stores.some((s) => s.name === store.name)) throw new Error(`Revocation store ${store.name} registered twice`);
    this.#stores.push(store);
  }

  get storeNames(): string[] {
    return this.#stores.map((s) => s.name);
  }

  async revokeUser(
    t: TenantCtx,
    userId: string,
    reason: RevocationReason,
    actor: { kind: ActorKind; id?: string | null } = { kind: 'system' },
  ): Promise<RevocationResult> {
    await t.db.user.updateMany({ where: { id: userId }, data: { revokedBefore: this.clock.now() } });
    const ended: Record<string, number> = {};
    for (const store of this.#stores) {
      ended[store.name] = await store.revokeUser(t, userId);
    }
    await this.bus.publish({ type: 'user.revoked', tenantId: t.id, userId });
    await this.audit.record(t, {
      actor,
      action: 'user.revoke',
      target: { kind: 'user', id: userId },
      outcome: 'success',
      detail: { reason, ended },
    });
    this.logger.info({ tenantId: t.id, userId, reason, ended }, 'user access revoked');
    return { userId, reason, ended };
  }
}
