import type { RequestHandler, Response } from 'express';
import type { Db } from '../db/open-database.js';
import { AppError } from '../lib/errors.js';
import { findActiveTenant } from '../tenants/find-tenant.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * Resolves `/t/:slug` once at the edge. Unknown, malformed and disabled slugs get the same 404, so the answer never
 * hints at which tenants exist.
 */
export function resolveTenant(db: Db): RequestHandler {
  return async (req, res, next) => {
    const tenant = await findActiveTenant(db, String(req.params.slug ?? ''));
    if (!tenant) throw new AppError(404, 'not_found', 'Not found');
    res.locals.tenant = tenant;
    next();
  };
}

/** The tenant resolved at the edge; route adapters pass it explicitly to the functions they call. */
export function tenantOf(res: Response): TenantCtx {
  const t = res.locals.tenant as TenantCtx | undefined;
  if (!t) throw new Error('tenantOf() used outside /t/:slug');
  return t;
}
