import { badRequest } from '../../lib/errors.js';
import { parseConnectionConfig } from '../../sso/connections/connection-config.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** Okta SAML app URLs name the app id: `/app/{id}/sso/saml/metadata`, `/app/{name}/{id}/sso/saml`. */
const SAML_APP_PATH = /^\/app\/(?:[^/]+\/)?([A-Za-z0-9]{10,64})\/sso\/saml(?:\/metadata)?$/;

/**
 * The Okta app integration users sign in with, found from the tenant's own IdP connections on this org: an OIDC
 * connection's client id is the app's id in Okta, and a SAML connection's metadata or SSO URL carries it. Exactly
 * one candidate is required; otherwise the admin names it with `--app-id`.
 */
export async function discoverAppId(t: TenantCtx, orgUrl: string): Promise<string> {
  const rows = await t.db.idpConnection.findMany({ where: { enabled: true }, select: { kind: true, issuer: true, config: true } });
  const found = new Set<string>();
  for (const row of rows) {
    const config = parseConnectionConfig(row.config);
    if (config.oidc && URL.parse(row.issuer)?.origin === orgUrl) found.add(config.oidc.clientId);
    for (const url of [config.saml?.metadataUrl, config.saml?.ssoUrl]) {
      const u = url ? URL.parse(url) : null;
      const m = u && u.origin === orgUrl ? SAML_APP_PATH.exec(u.pathname) : null;
      if (m) found.add(m[1]!);
    }
  }
  if (found.size === 1) return [...found][0]!;
  if (found.size === 0) throw badRequest(`No SSO connection of this tenant is an app of ${orgUrl}: pass --app-id (Okta admin console → Applications → the SSO Bridge app; the id is in its URL)`);
  throw badRequest(`Several apps of ${orgUrl} sign in to this tenant (${[...found].join(', ')}): pass --app-id`);
}
