import type { RequestHandler, Response } from 'express';
import { AppError } from '../lib/errors.js';
import type { TenantDirectory } from '../tenants/tenant-directory.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * Resolves `/t/:slug` once at the edge. Unknown, malformed and disabled slugs get the same 404, so the answer never
 * hints at which tenants exist.
 */
export function resolveTenant(tenants: TenantDirectory): RequestHandler {
  return async (req, res, next) => {
    const tenant = await tenants.findActive(String(req.params.slug ?? ''));
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
