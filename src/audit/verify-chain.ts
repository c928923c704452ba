import type { TenantCtx } from '../tenants/tenant-context.js';

/** At most this many problems are listed; `ok` is false as soon as there is one. */
const MAX_PROBLEMS = 20;

export interface ChainProblem {
  seq: number;
  id: string | null;
  problem: string;
}

export interface ChainReport {
  ok: boolean;
  /** Rows checked (those retention kept). */
  rows: number;
  firstSeq: number | null;
  lastSeq: number;
  /** The chain head: keep it elsewhere, and a later `verify` proves nothing before it was rewritten. */
  headHash: string;
  /** Rows up to this seq were deleted by retention; the first kept row chains from `anchorHash`. */
  prunedThroughSeq: number;
  anchorHash: string;
  problems: ChainProblem[];
}

interface LinkRow {
  seq: bigint;
  id: string;
  problem: string;
}

/**
 * Checks a tenant's audit hash chain in the database, row by row in seq order: every row's hash must be
 * audit_link(previous row's hash, its own content) and its seq the previous one plus one — so a changed row (its own
 * hash no longer matches), a removed row (a gap, and the next row's link breaks) and a reordered row (seq is part of
 * the content) are all found — the last row must be the chain head recorded by audit_append(), and a retention anchor
 * must have the audit.prune event that audit_prune() appends with it (a prefix deleted otherwise). One scan with a
 * window, streamed by PostgreSQL: constant memory whatever the size of the log.
 */
export async function verifyAuditChain(t: TenantCtx): Promise<ChainReport> {
  const [head] = await t.db.$queryRaw<{ lastSeq: bigint; lastHash: string; prunedSeq: bigint; prunedHash: string }[]>`
    SELECT "lastSeq", "lastHash", "prunedSeq", "prunedHash" FROM "AuditChain" WHERE "chain" = ${t.id}`;
  const prunedSeq = head?.prunedSeq ?? 0n;
  const anchor = head?.prunedHash ?? '';
  const broken = await t.db.$queryRaw<LinkRow[]>`
    SELECT "seq", "id", CASE WHEN "prevSeq" <> "seq" - 1 THEN 'rows missing or reordered before this one' ELSE 'hash mismatch: row changed' END AS "problem"
      FROM (SELECT "seq", "id", "hash",
                   coalesce(lag("seq") OVER w, ${prunedSeq}) AS "prevSeq",
                   audit_link(coalesce(lag("hash") OVER w, ${anchor}), audit_content("seq", "id", "tenantId", "actorKind", "actorId",
                     "action", "targetKind", "targetId", "outcome", "ip", "userAgent", "requestId", "detail", "createdAt")) AS "expected"
              FROM "AuditEvent" WHERE "tenantId" = ${t.id} WINDOW w AS (ORDER BY "seq")) links
     WHERE "prevSeq" <> "seq" - 1 OR "expected" <> "hash"
     ORDER BY "seq" LIMIT ${MAX_PROBLEMS}`;
  const [stats] = await t.db.$queryRaw<{ rows: bigint; firstSeq: bigint | null; lastSeq: bigint | null }[]>`
    SELECT count(*) AS "rows", min("seq") AS "firstSeq", max("seq") AS "lastSeq" FROM "AuditEvent" WHERE "tenantId" = ${t.id}`;
  const [last] = await t.db.$queryRaw<{ hash: string }[]>`
    SELECT "hash" FROM "AuditEvent" WHERE "tenantId" = ${t.id} ORDER BY "seq" DESC LIMIT 1`;

  // Retention moves the anchor and appends its audit.prune event in one function call. An anchor without that event
  // is a prefix deleted by hand (anyone who can write to the database can open the retention path the triggers allow).
  const [recorded] = prunedSeq > 0n
    ? await t.db.$queryRaw<{ id: string }[]>`
        SELECT "id" FROM "AuditEvent" WHERE "tenantId" = ${t.id} AND "seq" > ${prunedSeq} AND "action" = 'audit.prune'
           AND "detail"->>'throughSeq' = ${String(prunedSeq)} AND "detail"->>'anchorHash' = ${anchor} LIMIT 1`
    : [{ id: '' }];

  const problems: ChainProblem[] = broken.map((r) => ({ seq: Number(r.seq), id: r.id, problem: r.problem }));
  if (!recorded) {
    problems.unshift({ seq: Number(prunedSeq), id: null, problem: `rows up to seq ${prunedSeq} were deleted without an audit.prune event recording it` });
  }
  const lastSeq = stats?.lastSeq ?? prunedSeq;
  const headSeq = head?.lastSeq ?? 0n;
  // The tail: rows removed after the last one left (or everything) leave no gap to see, only a head that is ahead.
  if (lastSeq !== headSeq || (last && last.hash !== head?.lastHash)) {
    problems.push({ seq: Number(headSeq), id: null, problem: `chain head is seq ${headSeq} but the last row is seq ${lastSeq}: latest rows missing or changed` });
  }
  return {
    ok: problems.length === 0,
    rows: Number(stats?.rows ?? 0n),
    firstSeq: stats?.firstSeq == null ? null : Number(stats.firstSeq),
    lastSeq: Number(lastSeq),
    headHash: head?.lastHash ?? '',
    prunedThroughSeq: Number(prunedSeq),
    anchorHash: anchor,
    problems: problems.slice(0, MAX_PROBLEMS),
  };
}
