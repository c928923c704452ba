import * as oidc from 'openid-client';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { findConnection } from '../connections/manage-connections.js';
import { loadIdpUserToken, OIDC_ID_TOKEN } from '../idp-tokens/idp-user-tokens.js';
import { oidcConfig } from '../oidc/oidc-config.js';
import { samlLogoutUrl } from '../saml/single-logout.js';

/**
 * Where to send the browser after our own sign-out so that the IdP ends its session too (single logout), or null:
 * SAML — a signed LogoutRequest to the IdP's SingleLogoutService (single-logout.ts); OIDC — RP-Initiated Logout 1.0
 * §2 to the `end_session_endpoint` with our `client_id`, the sign-in's `id_token_hint` and `post_logout_redirect_uri` =
 * this tenant's logout page (register it at the IdP). An IdP that offers neither, or is unreachable, leaves only our
 * session ended.
 */
export async function idpLogoutUrl(s: Services, t: TenantCtx, session: { connectionId: string | null; data: unknown; userId?: string }): Promise<string | null> {
  const conn = session.connectionId ? await findConnection(t, session.connectionId) : null;
  if (!conn) return null;
  try {
    if (conn.kind === 'saml') return await samlLogoutUrl(s, t, session);
    const config = await oidcConfig(s, t, conn);
    if (!config.serverMetadata().end_session_endpoint) return null;
    // id_token_hint: the ID token of the user's last sign-in through this connection (Okta requires it; others use it
    // to pick the session and skip their confirmation page). Read before sign-out deletes it.
    const hint = session.userId ? await loadIdpUserToken<string>(s, t, OIDC_ID_TOKEN, session.userId, conn.id) : null;
    return oidc.buildEndSessionUrl(config, {
      client_id: conn.config.oidc!.clientId,
      post_logout_redirect_uri: `${s.config.publicUrl}/t/${t.slug}/logout`,
      ...(hint && { id_token_hint: hint.value }),
    }).href;
  } catch (err) {
    s.logger.warn({ tenantId: t.id, connectionId: conn.id, err: (err as Error).message }, 'IdP logout URL unavailable; only our session ended');
    return null;
  }
}
