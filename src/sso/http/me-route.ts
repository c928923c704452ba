import { Router } from 'express';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { currentSession } from '../../sessions/session-cookie.js';

/** `GET /t/{slug}/api/me`: the signed-in user of the browser session, or 401 JSON. */
export function meRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.get('/me', async (req, res) => {
    const t = tenantOf(res);
    const session = await currentSession(s, t, req);
    res.set('Cache-Control', 'no-store');
    if (!session) return void res.status(401).json({ error: 'unauthorized', message: 'Sign in first' });
    const u = session.user;
    const memberships = await t.db.groupMembership.findMany({ where: { userId: u.id }, include: { group: { select: { displayName: true } } } });
    res.json({
      id: u.id,
      email: u.email,
      name: u.displayName ?? u.userName,
      groups: memberships.map((m) => m.group.displayName).sort(),
    });
  });
  return r;
}
