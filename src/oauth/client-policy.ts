import { errors } from 'oidc-provider';
import { JWT_BEARER, TOKEN_EXCHANGE } from './cross-app/grant-types.js';

/** Our own client metadata: `x_sb_purpose: "scim"` marks a CLI-registered machine client for Entra/Okta provisioning. */
export const PURPOSE = 'x_sb_purpose';
/** Set on clients an administrator registered with the CLI; the consent page says so. */
export const ADMIN_REGISTERED = 'x_sb_admin_registered';
/** Connection ids of the ID-JAG issuers that may vouch for this client (`client add --id-jag-idp`); absent = any. */
export const ID_JAG_IDPS = 'x_sb_id_jag_idps';
export const extraClientProperties = [PURPOSE, ADMIN_REGISTERED, ID_JAG_IDPS];

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

interface ClientSchemaLike {
  redirect_uris?: string[];
  grant_types?: string[];
  application_type?: string;
  [PURPOSE]?: unknown;
  [ADMIN_REGISTERED]?: unknown;
  [ID_JAG_IDPS]?: unknown;
}

function checkRedirectUri(uri: string): 'loopback' | 'https' | 'private-use' {
  const url = URL.parse(uri);
  if (!url) throw new errors.InvalidRedirectUri('redirect_uris must be absolute URIs');
  if (url.protocol === 'https:') return 'https';
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return 'loopback';
  // RFC 8252 §7.1: native apps may use a private-use scheme named after a domain they own (reverse DNS, with a dot).
  if (/^[a-z][a-z0-9+-]*\.[a-z0-9.+-]+:$/i.test(url.protocol)) return 'private-use';
  throw new errors.InvalidRedirectUri('redirect_uris must use https, a loopback http address or a private-use scheme');
}

/**
 * Runs for every client oidc-provider builds: registered (DCR), fetched (CIMD) or loaded from the database.
 * - Redirect URIs: https, http on a loopback address, or a reverse-DNS private-use scheme — nothing else.
 * - A client with a loopback redirect URI is a native app: RFC 8252 §7.3 makes the server allow any port for it
 *   ("MUST"), which oidc-provider does for application_type "native" only. A native client may also claim https URIs
 *   (VS Code: `http://127.0.0.1:33418/` and `https://vscode.dev/redirect`), except on a loopback host, which
 *   oidc-provider refuses for native clients: a client with such a URI stays as registered (exact matching).
 * - Self-registered clients may not claim our internal purpose nor the client_credentials grant (only the CLI can).
 */
export function validateClientMetadata(ctx: { oidc?: { route?: string } } | undefined, key: string, _value: unknown, metadata: object): void {
  if (key !== PURPOSE) return;
  const m = metadata as ClientSchemaLike;
  const kinds = (m.redirect_uris ?? []).map(checkRedirectUri);
  const httpsOnLoopback = (m.redirect_uris ?? []).some((u, i) => kinds[i] === 'https' && LOOPBACK.has(URL.parse(u)?.hostname ?? ''));
  if (kinds.includes('loopback') && !httpsOnLoopback) m.application_type = 'native';
  const selfRegistered = ctx?.oidc?.route === 'registration' || ctx?.oidc?.route === 'client_update';
  if (selfRegistered) {
    for (const own of [PURPOSE, ADMIN_REGISTERED, ID_JAG_IDPS] as const) {
      if (m[own] !== undefined) throw new errors.InvalidClientMetadata(`${own} cannot be self-registered`);
    }
    for (const adminOnly of ['client_credentials', JWT_BEARER, TOKEN_EXCHANGE]) {
      if (m.grant_types?.includes(adminOnly)) throw new errors.InvalidClientMetadata(`${adminOnly} is only available to clients registered by an administrator`);
    }
  }
}
