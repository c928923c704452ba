import { Router, type RequestHandler } from 'express';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Services } from '../services.js';
import { currentSession } from '../sessions/session-cookie.js';
import { listConsents, withdrawConsent } from './consent-store.js';
import { listConnections } from '../upstream-auth/connection-store.js';
import { disconnectByName } from '../upstream-auth/disconnect-upstream.js';
import { connectUrl } from '../upstream-auth/upstream-oauth-urls.js';

/**
 * `/t/{slug}/api/connected-apps`: the signed-in user's consented clients, and withdrawal (DELETE …/:clientId), which
 * ends the client's grants and tokens at once. Browser-session authenticated; the session cookie is SameSite=Lax, so
 * a cross-site page cannot send the DELETE with it.
 */
export function connectedAppsRoutes(s: Services): Router {
  const router = Router({ mergeParams: true });

  const withUser: RequestHandler = async (req, res, next) => {
    const session = await currentSession(s, tenantOf(res), req);
    if (!session) {
      res.status(401).json({ error: 'unauthorized', message: 'Sign in first' });
      return;
    }
    res.locals.userId = session.userId;
    next();
  };

  router.get('/', withUser, async (_req, res) => {
    const t = tenantOf(res);
    const consents = await listConsents(t, String(res.locals.userId));
    const clients = await t.db.oidcPayload.findMany({
      where: { model: 'Client', id: { in: consents.map((c) => c.clientId) } },
      select: { id: true, payload: true },
    });
    const names = new Map(clients.map((c) => [c.id, (c.payload as { client_name?: string }).client_name]));
    res.set('Cache-Control', 'no-store').json({
      apps: consents.map((c) => ({
        clientId: c.clientId,
        clientName: names.get(c.clientId) ?? c.clientId,
        tools: c.toolNames,
        connectedAt: c.grantedAt.toISOString(),
      })),
      // Per-user upstream accounts (src/upstream-auth): status and dates, never a token.
      accounts: (await listConnections(t, { userId: String(res.locals.userId) })).map((c) => ({
        upstream: c.upstream,
        status: c.status,
        connectedAt: c.connectedAt.toISOString(),
        connectUrl: connectUrl(s.config.publicUrl, t, c.upstream),
      })),
    });
  });

  router.delete('/upstreams/:name', withUser, async (req, res) => {
    const t = tenantOf(res);
    const userId = String(res.locals.userId);
    const result = await disconnectByName(s, t, userId, String(req.params.name), { kind: 'user', id: userId });
    if (!result.removed) {
      res.status(404).json({ error: 'not_found', message: 'No such connected account' });
      return;
    }
    res.status(204).end();
  });

  router.delete('/:clientId', withUser, async (req, res) => {
    const t = tenantOf(res);
    const userId = String(res.locals.userId);
    const clientId = String(req.params.clientId);
    const result = await withdrawConsent(s, t, userId, clientId);
    if (!result.withdrawn && result.revokedGrants === 0) {
      res.status(404).json({ error: 'not_found', message: 'No such connected app' });
      return;
    }
    await s.audit.record(t, {
      actor: { kind: 'user', id: userId },
      action: 'oauth.consent.withdraw',
      target: { kind: 'oauth-client', id: clientId },
      outcome: 'success',
      detail: { revokedGrants: result.revokedGrants },
    });
    res.status(204).end();
  });
  return router;
}
