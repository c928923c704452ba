import { Router, type Request, type Response } from 'express';
import { escapeHtml, page } from '../consent/html.js';
import { csrfToken, csrfValid } from '../consent/csrf.js';
import { formBody } from '../http/body.js';
import { tenantOf } from '../http/resolve-tenant.js';
import { AppError } from '../lib/errors.js';
import { loadSigningKeys } from '../oauth/signing-keys.js';
import type { Services } from '../services.js';
import { currentSession } from '../sessions/session-cookie.js';
import { loginUrl } from '../sso/login-url.js';
import { safeReturnTo } from '../sso/return-to.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { ConnectRefused, findPerUserUpstream, finishConnect, startConnect } from './connect-flow.js';
import { gatewayClientMetadata } from './upstream-oauth-client.js';
import { JWT_BEARER } from '../oauth/cross-app/grant-types.js';
import { clientMetadataDocumentUrl, upstreamCallbackUrl } from './upstream-oauth-urls.js';

function send(res: Response, status: number, html: string): void {
  res.status(status).set({ 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY', 'Content-Type': 'text/html; charset=utf-8' });
  // The form posts to us; we answer with a redirect to the upstream's authorization server (form-action covers it).
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'");
  res.send(html);
}

const purpose = (name: string) => `upstream-connect:${name}`;

/**
 * `/t/{slug}/connect/{upstream}` (a page behind the tenant's SSO with one POST form that starts the flow, so another
 * site cannot start connections in a user's browser), `/t/{slug}/upstream-oauth/callback/{upstreamId}` (the redirect
 * URIs; without the id, the shared one of clients registered before decision 0060) and
 * `/t/{slug}/upstream-oauth/client-metadata.json` (our Client ID Metadata Document, public).
 */
export function upstreamConnectRoutes(s: Services): Router {
  const router = Router({ mergeParams: true });

  const refused = (res: Response, t: TenantCtx, err: unknown) => {
    // Our own errors carry messages written for the user (never a token or a stack); anything else is a 500.
    if (err instanceof AppError) {
      return send(res, err.status, page(t.name, 'Could not connect', `<p>${escapeHtml(err.message)}</p><p><a href="/t/${escapeHtml(t.slug)}/apps">Your connected apps</a></p>`));
    }
    throw err;
  };

  router.get('/upstream-oauth/client-metadata.json', async (_req, res) => {
    const t = tenantOf(res);
    const clients = await t.db.upstreamOAuthClient.findMany({ where: { registration: 'cimd' }, select: { upstreamId: true, idJagConnectionId: true }, orderBy: { upstreamId: 'asc' } });
    // Only the redirect URIs of the upstreams that know us by this document, whose responses must carry their `iss`
    // (decision 0060): never the shared callback nor another client's, which a server could otherwise be asked to
    // send a code to. The document's client_id must equal its own URL exactly (CIMD §3).
    const redirectUris = clients.map((c) => upstreamCallbackUrl(s.config.publicUrl, t, c.upstreamId));
    const doc = { client_id: clientMetadataDocumentUrl(s.config.publicUrl, t), ...gatewayClientMetadata(s, t, redirectUris) };
    // The same document is our client id at upstreams reached by ID-JAG (decision 0027): it then names jwt-bearer too.
    if (clients.some((c) => c.idJagConnectionId !== null)) doc.grant_types = [...(doc.grant_types ?? []), JWT_BEARER];
    res.set('Cache-Control', 'public, max-age=3600').json(doc);
  });

  router.get('/connect/:upstream', async (req: Request, res: Response) => {
    const t = tenantOf(res);
    const name = String(req.params.upstream);
    const session = await currentSession(s, t, req);
    const back = safeReturnTo(req.query.return_to, '', s.config.publicUrl);
    const self = `/t/${t.slug}/connect/${encodeURIComponent(name)}${back ? `?return_to=${encodeURIComponent(back)}` : ''}`;
    if (!session) return res.redirect(303, loginUrl(s, t, self));
    let up;
    try {
      up = await findPerUserUpstream(t, name);
    } catch (err) {
      return refused(res, t, err);
    }
    const connected = await t.db.upstreamConnection.findFirst({ where: { upstreamId: up.id, userId: session.userId }, select: { status: true } });
    const { cookieKeys } = await loadSigningKeys(s, t);
    const csrf = csrfToken(cookieKeys[0]!, t.id, purpose(up.name), session.id);
    const status = !connected ? '' : connected.status === 'connected' ? '<p>Your account is connected already; connecting again replaces it.</p>' : '<p class="warning" role="note">Your connection needs to be renewed.</p>';
    send(
      res,
      200,
      page(
        t.name,
        `Connect your ${up.name} account`,
        `<p>Signed in as <strong>${escapeHtml(session.user.email ?? session.user.userName)}</strong>.</p>
<p>Tools of <strong>${escapeHtml(up.name)}</strong> (<code>${escapeHtml(new URL(up.url).host)}</code>) act as you there. You will sign in at ${escapeHtml(up.name)} once; ${escapeHtml(t.name)} keeps the connection encrypted and renews it.</p>
${status}
<form method="post" action="${escapeHtml(self)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<button type="submit" autofocus>Connect ${escapeHtml(up.name)}</button>
</form>
<p>You can disconnect at any time from your <a href="/t/${escapeHtml(t.slug)}/apps">connected apps</a>.</p>`,
      ),
    );
  });

  router.post('/connect/:upstream', formBody('16kb'), async (req: Request, res: Response) => {
    const t = tenantOf(res);
    const name = String(req.params.upstream);
    const session = await currentSession(s, t, req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { cookieKeys } = await loadSigningKeys(s, t);
    if (!session || !csrfValid(cookieKeys[0]!, t.id, purpose(name), session.id, body.csrf)) {
      return send(res, 403, page(t.name, 'Request refused', '<p>This form is no longer valid. Reload the page and try again.</p>'));
    }
    try {
      const url = await startConnect(s, t, session, name, req.query.return_to);
      res.redirect(303, url.href);
    } catch (err) {
      refused(res, t, err);
    }
  });

  // The upstream's own redirect URI (decision 0060), and the shared one of clients registered before it.
  router.get(['/upstream-oauth/callback', '/upstream-oauth/callback/:upstreamId'], async (req: Request, res: Response) => {
    const t = tenantOf(res);
    const session = await currentSession(s, t, req);
    let done;
    try {
      done = await finishConnect(s, t, session, req.query as Record<string, unknown>, req.params.upstreamId === undefined ? null : String(req.params.upstreamId));
    } catch (err) {
      if (err instanceof ConnectRefused) req.log?.info({ reason: err.message }, 'upstream connect refused');
      return refused(res, t, err);
    }
    if (done.denied) return send(res, 200, page(t.name, 'Not connected', `<p>You did not connect ${escapeHtml(done.upstreamName)}. Its tools stay unavailable to you until you do.</p>`));
    if (done.returnTo) return res.redirect(303, done.returnTo);
    send(res, 200, page(t.name, `${done.upstreamName} is connected`, `<p>You can go back to your assistant and call the tool again.</p><p><a href="/t/${escapeHtml(t.slug)}/apps">Your connected apps</a></p>`));
  });
  return router;
}
