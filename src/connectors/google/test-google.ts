import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { googleConfig } from './google-config.js';
import { allGoogleScopes, DIRECTORY_SYNC_SCOPES, GOOGLE_TOOL_SCOPES } from './google-scopes.js';
import { GoogleTokenError, requestGoogleToken } from './google-token.js';
import { connectorKey } from './publisher-key.js';

type ScopeState = 'granted' | 'not_granted' | 'error';

/**
 * Asks Google for a token per scope, as the admin, to show which scopes domain-wide delegation grants (Google answers
 * `unauthorized_client` for each one it does not), and which tools and directory sync work as a result.
 */
export async function testGoogleConnector(s: Services, t: TenantCtx, row: ConnectorRow) {
  const config = googleConfig(row);
  const key = await connectorKey(s.vault, t, row);
  const scopes: Record<string, ScopeState> = {};
  const errors: Record<string, string> = {};
  for (const scope of allGoogleScopes()) {
    try {
      await requestGoogleToken(key, config.adminEmail, [scope], s.clock, s.egress.fetch);
      scopes[scope] = 'granted';
    } catch (err) {
      if (!(err instanceof GoogleTokenError)) throw err;
      scopes[scope] = err.code === 'unauthorized_client' ? 'not_granted' : 'error';
      if (scopes[scope] === 'error') errors[scope] = `${err.code}: ${err.message}`;
    }
  }
  const works = (needed: readonly string[]) => needed.every((x) => scopes[x] === 'granted');
  const tools = Object.fromEntries(Object.entries(GOOGLE_TOOL_SCOPES).map(([tool, needed]) => [tool, works(needed)]));
  return {
    id: row.id,
    kind: 'google',
    ok: Object.values(scopes).every((v) => v === 'granted'),
    clientId: config.clientId,
    subject: config.adminEmail,
    scopes,
    ...(Object.keys(errors).length > 0 && { errors }),
    tools,
    directorySync: works(DIRECTORY_SYNC_SCOPES),
  };
}
