import type { Services } from '../../services.js';
import type { Connection } from '../../sso/connections/manage-connections.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { findConnector } from '../connector-store.js';
import type { EntraUserToken } from './entra-token-store.js';
import { microsoftConfig, type MicrosoftConfig } from './microsoft-config.js';
import { resolveOverageGroups } from './groups-overage.js';

/**
 * The SSO side of the Microsoft connector (issue 11 §1). OBO needs an Entra access token whose audience is our app,
 * which only the user's own Entra sign-in can produce: so while the tenant has a Microsoft connector, its Entra OIDC
 * connections for the same app registration also ask for `api://{clientId}/access_as_user` and `offline_access`,
 * and the refresh token Entra returns is kept in the vault for the user.
 */

/** The connector's settings when this OIDC connection is its Entra sign-in (same app, issuer on its authority host). */
async function entraConnector(t: TenantCtx, conn: Connection): Promise<MicrosoftConfig | null> {
  if (conn.kind !== 'oidc' || !conn.config.oidc) return null;
  const row = await findConnector(t, 'microsoft');
  if (!row) return null;
  const config = microsoftConfig(row);
  if (conn.config.oidc.clientId !== config.clientId) return null;
  return entraTenantOfIssuer(config, conn.issuer) ? config : null;
}

/** `{authorityHost}/{tenant}/v2.0` → the tenant segment (a GUID or a verified domain); null for other issuers. */
export function entraTenantOfIssuer(config: MicrosoftConfig, issuer: string): string | null {
  const prefix = `${config.authorityHost}/`;
  if (!issuer.startsWith(prefix)) return null;
  const m = /^([A-Za-z0-9.-]{1,253})\/v2\.0\/?$/.exec(issuer.slice(prefix.length));
  return m ? m[1]! : null;
}

/** Scopes to add to this connection's authorization request (none when the connector does not apply). */
export async function entraLoginScopes(t: TenantCtx, conn: Connection): Promise<string[]> {
  const config = await entraConnector(t, conn);
  return config ? [config.apiScope, 'offline_access'] : [];
}

export interface EntraCapture {
  token: EntraUserToken | null;
  /** Group object ids read from Graph when the ID token reported an overage; null when not resolved. */
  groups: string[] | null;
}

/**
 * After the code exchange: the token to keep (when Entra returned a refresh token with our API's access token) and,
 * on a groups overage, the user's groups from Graph (OBO with the access token just received).
 */
export async function captureEntraSignIn(
  s: Services,
  t: TenantCtx,
  conn: Connection,
  tokens: { refresh_token?: string; access_token?: string },
  claims: Record<string, unknown>,
  overage: boolean,
): Promise<EntraCapture> {
  const config = await entraConnector(t, conn);
  const tid = typeof claims.tid === 'string' ? claims.tid : null;
  const oid = typeof claims.oid === 'string' ? claims.oid : String(claims.sub);
  if (!config || !tid) return { token: null, groups: null };
  let groups: string[] | null = null;
  if (overage && tokens.access_token) {
    const row = (await findConnector(t, 'microsoft'))!;
    groups = await resolveOverageGroups(s, t, row, config, tid, tokens.access_token).catch((err: unknown) => {
      s.logger.warn({ tenantId: t.id, connectionId: conn.id, err: String(err).slice(0, 200) }, 'Entra groups overage: Graph lookup failed; memberships left unchanged');
      return null;
    });
  }
  const token = tokens.refresh_token ? { refreshToken: tokens.refresh_token, tid, oid, clientId: config.clientId } : null;
  return { token, groups };
}
