import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { checkMicrosoftCredential, entraConnections } from './check-credential.js';
import { ENTRA_TOKEN_OWNER } from './entra-token-store.js';
import { microsoftConfig } from './microsoft-config.js';
import { deserializeCredential } from './microsoft-credential.js';
import { MICROSOFT_TOOL_SCOPES } from './microsoft-scopes.js';

/**
 * `connector test` for Microsoft: the credential against Entra (client credentials), the sign-in connections that
 * capture users' tokens, how many users have one stored, and the Graph permissions each tool needs (consent is per
 * user and tenant: a missing one shows as AADSTS65001 on the first call, with the admin-consent link).
 */
export async function testMicrosoftConnector(s: Services, t: TenantCtx, row: ConnectorRow) {
  const config = microsoftConfig(row);
  const credential = deserializeCredential(await s.vault.getString(t, row.secretId ?? ''));
  const check = await checkMicrosoftCredential(t, config, credential, s.clock.now().getTime(), s.egress.fetch);
  const connections = await entraConnections(t, config);
  const signedIn = await t.db.vaultSecret.count({ where: { ownerKind: ENTRA_TOKEN_OWNER } });
  return {
    id: row.id,
    kind: 'microsoft',
    ok: check.result === 'accepted' && connections.some((c) => c.enabled),
    clientId: config.clientId,
    cloud: config.cloud,
    credential: check,
    signInConnections: connections,
    usersWithStoredSignIn: signedIn,
    tools: MICROSOFT_TOOL_SCOPES,
  };
}
