import type { Logger } from 'pino';
import type { AuditLog, ActorKind } from '../audit/audit-log.js';
import type { Db } from '../db/open-database.js';
import { Prisma } from '../generated/prisma/client.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import { tenantContext, type TenantCtx } from '../tenants/tenant-context.js';
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

/** What a user row carries while its revocation has not completed (`User.pendingRevocation`). */
interface PendingRevocation {
  id: string;
  reason: RevocationReason;
  actor: { kind: ActorKind; id?: string | null };
  at: string;
}

/** A pending revocation younger than this is left to the request that started it; the job takes older ones. */
const RETRY_AFTER_MS = 10_000;

/**
 * One function ends everything a user holds in a tenant. Each capability registers its store; the hub stamps the
 * user's `revokedBefore` (so anything issued earlier is dead even if a store missed it), records why in the audit
 * log, and tells every node through the event bus so their caches drop the user within a second.
 *
 * All-or-nothing for the caller: the stamp and a `pendingRevocation` marker are written in ONE statement (with the
 * deactivation itself when SCIM deactivates: {@link stamp}); the steps — bus, stores, audit — run after it and the
 * marker is cleared only when all of them succeeded. A step that fails (or a process that dies) leaves the marker:
 * the IdP's retry of the same request completes it ({@link complete}), and the `revocation-retry` job completes
 * any the IdP does not retry. Every step is idempotent.
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

  /** Columns to write, in the same UPDATE as the change that ends the user's access, to begin a revocation. */
  stamp(reason: RevocationReason, actor: { kind: ActorKind; id?: string | null } = { kind: 'system' }) {
    const now = this.clock.now();
    const pending: PendingRevocation = { id: newId('rvk'), reason, actor, at: now.toISOString() };
    return { revokedBefore: now, pendingRevocation: pending as unknown as Prisma.InputJsonObject };
  }

  async revokeUser(
    t: TenantCtx,
    userId: string,
    reason: RevocationReason,
    actor: { kind: ActorKind; id?: string | null } = { kind: 'system' },
  ): Promise<RevocationResult> {
    const data = this.stamp(reason, actor);
    const { count } = await t.db.user.updateMany({ where: { id: userId }, data });
    // No user row (already deleted): nothing to mark, but whatever it left behind still ends.
    if (count === 0) return this.#run(t, userId, data.pendingRevocation as unknown as PendingRevocation);
    return (await this.complete(t, userId))!;
  }

  /** Runs the steps of the user's pending revocation, if any; rejects (marker kept) if one of them fails. */
  async complete(t: TenantCtx, userId: string): Promise<RevocationResult | null> {
    const row = await t.db.user.findFirst({ where: { id: userId }, select: { pendingRevocation: true } });
    const pending = row?.pendingRevocation as PendingRevocation | null | undefined;
    if (!pending?.id) return null;
    const result = await this.#run(t, userId, pending);
    await t.db.user.updateMany({
      where: { id: userId, pendingRevocation: { path: ['id'], equals: pending.id } },
      data: { pendingRevocation: Prisma.DbNull },
    });
    return result;
  }

  /** The job: completes revocations left pending (a failed step, a crashed node) that nobody retried. */
  async completeAbandoned(db: Db): Promise<number> {
    const cutoff = this.clock.now().getTime() - RETRY_AFTER_MS;
    const rows = await db.user.findMany({
      where: { pendingRevocation: { not: Prisma.DbNull } },
      select: { id: true, pendingRevocation: true, tenant: { select: { id: true, slug: true, name: true, settings: true } } },
      take: 500,
    });
    let done = 0;
    for (const row of rows) {
      if (Date.parse((row.pendingRevocation as unknown as PendingRevocation).at) > cutoff) continue;
      try {
        if (await this.complete(tenantContext(db, row.tenant), row.id)) done++;
      } catch (err) {
        this.logger.error({ err, tenantId: row.tenant.id, userId: row.id }, 'pending revocation failed again; will retry');
      }
    }
    return done;
  }

  async #run(t: TenantCtx, userId: string, pending: PendingRevocation): Promise<RevocationResult> {
    const { reason, actor } = pending;
    // First, so caches everywhere drop the user now: the database already says revoked, whatever fails below.
    await this.bus.publishOrThrow({ type: 'user.revoked', tenantId: t.id, userId });
    const ended: Record<string, number> = {};
    for (const store of this.#stores) {
      ended[store.name] = await store.revokeUser(t, userId);
    }
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
