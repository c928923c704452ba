import type { Db } from '../db/open-database.js';
import { newId } from '../lib/ids.js';
import type { Clock } from '../lib/clock.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { redactDetail } from './redact.js';

export type ActorKind = 'user' | 'admin-cli' | 'scim-token' | 'oauth-client' | 'system' | 'idp';
export type Outcome = 'success' | 'failure' | 'denied';

export interface AuditInput {
  actor: { kind: ActorKind; id?: string | null };
  action: string; // dotted verb: 'scim.user.create', 'oauth.token.exchange', 'mcp.tool.call'…
  target?: { kind: string; id?: string | null };
  outcome: Outcome;
  /** Request facts, when the event comes from HTTP. */
  request?: { ip?: string | undefined; userAgent?: string | undefined; requestId?: string | undefined };
  /** Small JSON, never secrets: keys that look secret are dropped by {@link redactDetail}. */
  detail?: Record<string, unknown>;
}

/** Append-only audit trail. Nothing in the code base updates or deletes AuditEvent rows. */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async record(t: TenantCtx | null, e: AuditInput): Promise<string> {
    const id = newId('evt');
    const data = {
      id,
      actorKind: e.actor.kind,
      actorId: e.actor.id ?? null,
      action: e.action,
      targetKind: e.target?.kind ?? null,
      targetId: e.target?.id ?? null,
      outcome: e.outcome,
      ip: e.request?.ip ?? null,
      userAgent: e.request?.userAgent?.slice(0, 512) ?? null,
      requestId: e.request?.requestId ?? null,
      detail: redactDetail(e.detail ?? {}) as Prisma.InputJsonValue,
      createdAt: this.clock.now(),
    };
    if (t) await t.db.auditEvent.create({ data: { ...data, tenantId: t.id } });
    else await this.db.auditEvent.create({ data });
    return id;
  }
}
