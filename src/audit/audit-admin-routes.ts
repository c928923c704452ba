import { Router, type Request } from 'express';
import { z } from 'zod';
import { requireAdminApi } from '../admin/http/require-admin.js';
import { tenantOf } from '../http/resolve-tenant.js';
import { writeLines } from '../lib/write-lines.js';
import type { Services } from '../services.js';
import { exportFormat } from './audit-commands.js';
import { auditEventsAfter, AuditFilterSchema, exportAuditEvents, exportLines, toExported } from './export-events.js';
import { verifyAuditChain } from './verify-chain.js';

const PageQuerySchema = z.object({
  cursor: z.string().regex(/^\d{1,19}$/, 'invalid cursor').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const one = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** `?type=a&type=b` or `?type=a`: Express gives a string or an array. Empty fields (a submitted form) mean "any". */
export const auditFilterOf = (req: Request) => {
  const types = req.query.type === undefined ? [] : ([] as unknown[]).concat(req.query.type).filter((v) => v !== '');
  const q = req.query;
  return AuditFilterSchema.parse({ since: one(q.since), until: one(q.until), types, actor: one(q.actor), target: one(q.target), outcome: one(q.outcome) });
};
const filterOf = auditFilterOf;

/**
 * `/t/{slug}/api/admin/audit…`: the tenant's audit log for its admins — a tenant admin's browser session (the admin
 * console's; the cookie is SameSite=Lax and these are GETs without side effects), 401 without a session, 403 for a
 * user who is not an admin. Pages in chain order with a cursor (`nextCursor` is where to continue, also later, when
 * more events have been appended), a streamed export, and the chain check.
 */
export function auditAdminRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });

  r.use(requireAdminApi(s));

  r.get('/', async (req, res) => {
    const t = tenantOf(res);
    const filter = filterOf(req);
    const page = PageQuerySchema.parse(req.query);
    const after = BigInt(page.cursor ?? '0');
    const rows = await auditEventsAfter(t, filter, after, page.limit);
    res.json({
      events: rows.map(toExported),
      nextCursor: String(rows.at(-1)?.seq ?? after),
      hasMore: rows.length === page.limit,
    });
  });

  r.get('/export', async (req, res) => {
    const t = tenantOf(res);
    const filter = filterOf(req);
    const format = exportFormat(typeof req.query.format === 'string' ? req.query.format : undefined);
    // Who took a copy of the log is itself worth a row in it, written before the first byte leaves.
    await s.audit.record(t, {
      actor: { kind: 'user', id: String(res.locals.adminId) },
      action: 'audit.export',
      target: { kind: 'audit-log', id: t.id },
      outcome: 'success',
      request: { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') },
      detail: { format, since: filter.since?.toISOString() ?? null, until: filter.until?.toISOString() ?? null, types: filter.types, actor: filter.actor ?? null, target: filter.target ?? null, outcome: filter.outcome ?? null },
    });
    res.writeHead(200, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="audit-${t.slug}.${format}"`,
    });
    try {
      await writeLines(res, exportLines(exportAuditEvents(t, filter), format));
    } catch (err) {
      // Headers are gone: cut the body so the client sees a failed download, never a silently short export.
      req.log?.error({ err }, 'audit export failed mid-stream');
      res.destroy();
    }
  });

  r.get('/verify', async (_req, res) => {
    res.json(await verifyAuditChain(tenantOf(res)));
  });

  return r;
}
