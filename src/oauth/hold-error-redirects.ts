import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, page } from '../consent/html.js';
import { ADMIN_REGISTERED } from './client-policy.js';

/** Marks the interaction result of the user's own Deny on the consent page (the one error we may deliver). */
export const USER_DECISION = 'x_sb_user_decision';

interface Held {
  client: string;
  redirectHost: string;
}

type ErrorLike = Error & { allow_redirect?: boolean; error?: string };
type Ctx = KoaContextWithOIDC & { oidc: KoaContextWithOIDC['oidc'] & { entities?: { Interaction?: { result?: Record<string, unknown> } } } };

const AUTHORIZATION_ROUTES = new Set(['authorization', 'resume']);

/**
 * RFC 9700 §4.11.2: an authorization server must not become an open redirector. Anyone can register a client (DCR) or
 * publish one (client ID metadata document) with any https redirect URI, so for such clients an authorization error
 * is not redirected — an error page on our origin names the client and where it wanted to go. The one exception is
 * the signed-in user's own Deny on the consent page (they saw the client and its redirect host there). Clients an
 * administrator registered keep RFC 6749 §4.1.2.1 behaviour (errors go back to their redirect URI).
 *
 * oidc-provider emits `authorization.error` / `server_error` before it decides between redirect and renderError
 * (shared/authorization_error_handler.js), and decides on the error's `allow_redirect`: the listener clears that flag.
 */
export function holdErrorRedirects() {
  const held = new WeakMap<object, Held>();

  const hold = (ctx: Ctx, err: ErrorLike) => {
    if (!AUTHORIZATION_ROUTES.has(String(ctx.oidc?.route)) || !err?.allow_redirect) return;
    const client = ctx.oidc.client as (Record<string, unknown> & { clientId: string; clientName?: string; redirectUris?: string[] }) | undefined;
    if (!client || client[ADMIN_REGISTERED]) return;
    const result = ctx.oidc.entities?.Interaction?.result;
    if (ctx.oidc.route === 'resume' && err.error === 'access_denied' && result?.[USER_DECISION] === 'deny') return;
    const params = (ctx.oidc.params ?? ctx.query) as Record<string, unknown>;
    const uri = typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUris?.[0];
    const url = uri ? URL.parse(uri) : null;
    err.allow_redirect = false;
    // prompt=none errors carry 303 (made to be redirected); as a page they are a plain 400.
    if (ctx.status >= 300 && ctx.status < 400) ctx.status = 400;
    held.set(err, { client: client.clientName ?? client.clientId, redirectHost: url ? url.host || url.protocol : 'unknown' });
  };

  return {
    listen(provider: Provider): void {
      provider.on('authorization.error', hold as never);
      provider.on('server_error', hold as never);
    },
    /** The page for an error whose redirect was held back, or null for every other error. */
    page(tenantName: string, out: { error?: string; error_description?: string }, err: unknown): string | null {
      const h = err && typeof err === 'object' ? held.get(err) : undefined;
      if (!h) return null;
      return page(
        tenantName,
        'This app could not be connected',
        `<div role="alert"><p>The app <strong>${escapeHtml(h.client)}</strong> asked to connect, but its request was refused:
${escapeHtml(out.error_description ?? out.error)} (<code>${escapeHtml(out.error)}</code>).</p></div>
<p>The app wanted the answer sent to <strong>${escapeHtml(h.redirectHost)}</strong>. This app registered itself and was not
set up by your administrators, so you are not sent there automatically. Close this page and start again from the app,
or ask your administrator to register it.</p>`,
      );
    },
  };
}
