import { z } from 'zod';
import type { TenantCtx } from '../tenants/tenant-context.js';

export const AuditQuerySchema = z.object({
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  actorId: z.string().optional(),
  action: z.string().optional(),
  /** Opaque cursor from a previous page. */
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;

/**
 * One tenant's audit events, newest first, filtered by time range [from, to), actor and action (exact, or a prefix
 * ending in '.*'), paged with a keyset cursor so deep pages stay cheap.
 */
export async function queryAuditEvents(t: TenantCtx, input: AuditQuery) {
  const q = AuditQuerySchema.parse(input);
  const cursor = q.cursor ? decodeCursor(q.cursor) : undefined;
  const rows = await t.db.auditEvent.findMany({
    where: {
      createdAt: { ...(q.from && { gte: q.from }), ...(q.to && { lt: q.to }) },
      ...(q.actorId && { actorId: q.actorId }),
      ...(q.action && (q.action.endsWith('.*') ? { action: { startsWith: q.action.slice(0, -1) } } : { action: q.action })),
      ...(cursor && {
        OR: [{ createdAt: { lt: cursor.at } }, { createdAt: cursor.at, id: { lt: cursor.id } }],
      }),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    events: page,
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

const encodeCursor = (at: Date, id: string) => Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');

function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (Number.isNaN(date.getTime()) || typeof id !== 'string') throw new Error();
    return { at: date, id };
  } catch {
    throw new z.ZodError([{ code: 'custom', path: ['cursor'], message: 'invalid cursor', input: cursor }]);
  }
}
