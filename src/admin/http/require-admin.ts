import type { RequestHandler } from 'express';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { checkAdmin, type SignedInAdmin } from './admin-session.js';

/**
 * The JSON admin API's gate (`/t/{slug}/api/admin/…`): 401 without a live, non-idle session of this tenant, 403 for
 * a user who is not its admin. Sets `res.locals.admin` (and `adminId`) for the handlers; nothing is cached.
 */
export const requireAdminApi =
  (s: Services): RequestHandler =>
  async (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    const check = await checkAdmin(s, tenantOf(res), req);
    if (!check.ok) {
      if (check.reason === 'forbidden') return void res.status(403).json({ error: 'forbidden', message: 'Tenant admins only' });
      return void res.status(401).json({ error: 'unauthorized', message: check.reason === 'idle' ? 'Signed out after inactivity: sign in again' : 'Sign in first' });
    }
    res.locals.admin = check.admin;
    res.locals.adminId = check.admin.session.userId;
    next();
  };

export const adminOf = (res: { locals: Record<string, unknown> }) => res.locals.admin as SignedInAdmin;
