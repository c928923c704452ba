import { AppError } from '../lib/errors.js';
import type { Clock } from '../lib/clock.js';
import { newTimeOrderedId } from '../lib/ids.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export interface PruneResult {
  deleted: number;
  /** Rows up to and including this seq are gone; verification now starts from `anchorHash`. */
  prunedThroughSeq: number;
  anchorHash: string;
}

/**
 * Retention: deletes the tenant's oldest audit events — the longest prefix of the chain whose rows are all older than
 * `before`, never rows in the middle — and records it, atomically, in the chain's anchor and as an `audit.prune`
 * event at the end of the chain (the database function audit_prune, the only path its triggers let delete).
 */
export async function pruneAuditLog(t: TenantCtx, before: Date, clock: Clock, actor: { kind: string; id?: string | null }): Promise<PruneResult> {
  if (Number.isNaN(before.getTime())) throw new AppError(400, 'bad_request', '--before must be an ISO date');
  if (before.getTime() > clock.now().getTime()) throw new AppError(400, 'bad_request', '--before must not be in the future');
  const now = clock.now();
  const event = {
    id: newTimeOrderedId('evt', now.getTime()),
    actorKind: actor.kind,
    actorId: actor.id ?? null,
    action: 'audit.prune',
    targetKind: 'audit-log',
    targetId: t.id,
    outcome: 'success',
    createdAt: now,
  };
  const [r] = await t.db.$queryRaw<{ deleted: bigint; through_seq: bigint; anchor_hash: string }[]>`
    SELECT * FROM audit_prune(${t.id}, ${before}::timestamp(3), ${JSON.stringify(event)}::jsonb)`;
  return { deleted: Number(r?.deleted ?? 0n), prunedThroughSeq: Number(r?.through_seq ?? 0n), anchorHash: r?.anchor_hash ?? '' };
}
