import { Router, type RequestHandler } from 'express';
import { formBody } from '../http/body.js';
import { tenantOf } from '../http/resolve-tenant.js';
import { loadSigningKeys } from '../oauth/signing-keys.js';
import type { Services } from '../services.js';
import { currentSession } from '../sessions/session-cookie.js';
import { loginUrl } from '../sso/login-url.js';
import { listConsents, withdrawConsent } from './consent-store.js';
import { csrfToken, csrfValid } from './csrf.js';
import { escapeHtml, page } from './html.js';
import { renderConnectionsSection } from '../upstream-auth/connections-section.js';
import { disconnectByName } from '../upstream-auth/disconnect-upstream.js';

/**
 * `/t/{slug}/apps`: the browser page of "connected apps" (the JSON twin is /api/connected-apps). Each app has a
 * Disconnect button; disconnecting withdraws the consent and ends the app's tokens at once.
 */
export function connectedAppsPage(s: Services): Router {
  const router = Router({ mergeParams: true });
  const send = (res: Parameters<RequestHandler>[1], status: number, html: string) => {
    res.status(status).set({ 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY', 'Content-Type': 'text/html; charset=utf-8' }).send(html);
  };

  router.get('/apps', async (req, res) => {
    const t = tenantOf(res);
    const session = await currentSession(s, t, req);
    if (!session) return res.redirect(303, loginUrl(s, t, `/t/${t.slug}/apps`));
    const { cookieKeys } = await loadSigningKeys(s, t);
    const csrf = csrfToken(cookieKeys[0]!, t.id, 'connected-apps', session.id);
    const consents = await listConsents(t, session.userId);
    const clients = await t.db.oidcPayload.findMany({ where: { model: 'Client', id: { in: consents.map((c) => c.clientId) } }, select: { id: true, payload: true } });
    const names = new Map(clients.map((c) => [c.id, (c.payload as { client_name?: string }).client_name]));
    const items = consents.map((c) => ({ ...c, name: escapeHtml(names.get(c.clientId) ?? c.clientId) })).map((c) => `<li><strong>${c.name}</strong>
 — connected ${escapeHtml(c.grantedAt.toISOString().slice(0, 10))}
<form method="post" action="/t/${escapeHtml(t.slug)}/apps/disconnect">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><input type="hidden" name="client_id" value="${escapeHtml(c.clientId)}">
<button type="submit" aria-label="Disconnect ${c.name}">Disconnect</button>
</form></li>`);
    const accounts = await renderConnectionsSection(t, session.userId, csrf);
    send(res, 200, page(t.name, 'Connected apps', (items.length ? `<ul>\n${items.join('\n')}\n</ul>` : '<p>No apps are connected.</p>') + accounts));
  });

  router.post('/apps/disconnect', formBody('16kb'), async (req, res) => {
    const t = tenantOf(res);
    const session = await currentSession(s, t, req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { cookieKeys } = await loadSigningKeys(s, t);
    if (!session || !csrfValid(cookieKeys[0]!, t.id, 'connected-apps', session.id, body.csrf) || typeof body.client_id !== 'string') {
      return send(res, 403, page(t.name, 'Request refused', '<p>This form is no longer valid. Reload the page and try again.</p>'));
    }
    const result = await withdrawConsent(s, t, session.userId, body.client_id);
    await s.audit.record(t, {
      actor: { kind: 'user', id: session.userId },
      action: 'oauth.consent.withdraw',
      target: { kind: 'oauth-client', id: body.client_id },
      outcome: 'success',
      detail: { revokedGrants: result.revokedGrants },
    });
    res.redirect(303, `/t/${t.slug}/apps`);
  });
  // A per-user upstream connection (src/upstream-auth): ended here and revoked at the upstream.
  router.post('/apps/disconnect-upstream', formBody('16kb'), async (req, res) => {
    const t = tenantOf(res);
    const session = await currentSession(s, t, req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { cookieKeys } = await loadSigningKeys(s, t);
    if (!session || !csrfValid(cookieKeys[0]!, t.id, 'connected-apps', session.id, body.csrf) || typeof body.upstream !== 'string') {
      return send(res, 403, page(t.name, 'Request refused', '<p>This form is no longer valid. Reload the page and try again.</p>'));
    }
    await disconnectByName(s, t, session.userId, body.upstream, { kind: 'user', id: session.userId });
    res.redirect(303, `/t/${t.slug}/apps`);
  });
  return router;
}
