import { z } from 'zod';
import type { AuditEvent, Prisma } from '../generated/prisma/client.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/** Rows fetched per query while exporting: memory stays at one page whatever the size of the log. */
export const EXPORT_PAGE = 1000;

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date()).transform((v) => new Date(v));

/** What `audit export` and `GET …/api/admin/audit` select: a time range [since, until) and event types. */
export const AuditFilterSchema = z.object({
  since: isoDate.optional(),
  until: isoDate.optional(),
  /** Exact actions ('scim.user.create') or prefixes ending in '.*' ('scim.*'). */
  types: z.array(z.string().min(1).max(200)).max(50).default([]),
  /** Who acted (a user id, a SCIM token id, an OAuth client id…): the console's "user" and "client" filters. */
  actor: z.string().min(1).max(300).optional(),
  /** What was acted on (a user id, a tool id, a client id…). */
  target: z.string().min(1).max(300).optional(),
  outcome: z.enum(['success', 'failure', 'denied']).optional(),
});
/** A parsed filter: callers parse first, so a bad date is refused before any row is sent. */
export type AuditFilter = z.output<typeof AuditFilterSchema>;

/** One exported event: the row as stored, `seq` and `hash` included so that a copy can be matched to the chain. */
export interface ExportedEvent {
  seq: number;
  id: string;
  createdAt: string;
  actorKind: string;
  actorId: string | null;
  action: string;
  targetKind: string | null;
  targetId: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  detail: unknown;
  hash: string;
}

export const toExported = (e: AuditEvent): ExportedEvent => ({
  seq: Number(e.seq),
  id: e.id,
  createdAt: e.createdAt.toISOString(),
  actorKind: e.actorKind,
  actorId: e.actorId,
  action: e.action,
  targetKind: e.targetKind,
  targetId: e.targetId,
  outcome: e.outcome,
  ip: e.ip,
  userAgent: e.userAgent,
  requestId: e.requestId,
  detail: e.detail,
  hash: e.hash,
});

export function whereOf(filter: AuditFilter, afterSeq: bigint): Prisma.AuditEventWhereInput {
  const types = filter.types.map((a): Prisma.AuditEventWhereInput => (a.endsWith('.*') ? { action: { startsWith: a.slice(0, -1) } } : { action: a }));
  return {
    seq: { gt: afterSeq },
    ...(filter.actor && { actorId: filter.actor }),
    ...(filter.target && { targetId: filter.target }),
    ...(filter.outcome && { outcome: filter.outcome }),
    ...((filter.since || filter.until) && { createdAt: { ...(filter.since && { gte: filter.since }), ...(filter.until && { lt: filter.until }) } }),
    ...(types.length > 0 && { OR: types }),
  };
}

/** One page of a tenant's events in chain order (oldest first), after `afterSeq`. */
export async function auditEventsAfter(t: TenantCtx, filter: AuditFilter, afterSeq: bigint, limit: number): Promise<AuditEvent[]> {
  return t.db.auditEvent.findMany({ where: whereOf(filter, afterSeq), orderBy: { seq: 'asc' }, take: limit });
}

/**
 * Every matching event of a tenant in chain order, fetched a page at a time with a keyset (seq > last seen): constant
 * memory and no OFFSET however many millions of rows, and rows appended while it runs are included, never repeated.
 */
export async function* exportAuditEvents(t: TenantCtx, filter: AuditFilter): AsyncGenerator<ExportedEvent> {
  let after = 0n;
  for (;;) {
    const page = await auditEventsAfter(t, filter, after, EXPORT_PAGE);
    for (const e of page) yield toExported(e);
    if (page.length < EXPORT_PAGE) return;
    after = page.at(-1)!.seq;
  }
}

const CSV_COLUMNS = ['seq', 'id', 'createdAt', 'actorKind', 'actorId', 'action', 'targetKind', 'targetId', 'outcome', 'ip', 'userAgent', 'requestId', 'detail', 'hash'] as const;

/**
 * One CSV field (RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled). A value an attacker
 * controls (a user agent, a detail) that starts like a formula gets a leading apostrophe, so a spreadsheet opening the
 * export shows it instead of running it (OWASP "CSV Injection").
 */
export function csvField(value: unknown): string {
  let s = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The export as lines of text: JSON Lines (one event per line) or CSV with a header row. */
export async function* exportLines(events: AsyncIterable<ExportedEvent>, format: 'jsonl' | 'csv'): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_COLUMNS.join(',');
  for await (const e of events) {
    yield format === 'csv' ? CSV_COLUMNS.map((c) => csvField(e[c])).join(',') : JSON.stringify(e);
  }
}
