import { AuthError } from '@azure/msal-node';
import type { Egress } from '../../http/egress.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { entraTenantOfIssuer } from './entra-sign-in.js';
import type { MicrosoftConfig } from './microsoft-config.js';
import type { MicrosoftCredential } from './microsoft-credential.js';
import { msalClient } from './msal-client.js';

export type CredentialCheck =
  | { result: 'accepted'; tenant: string }
  | { result: 'refused'; tenant: string; error: string }
  | { result: 'unreachable'; tenant: string; error: string }
  | { result: 'skipped'; reason: string };

/** The tenant's Entra OIDC connections for this app registration: the sign-ins that capture tokens for the tools. */
export async function entraConnections(t: TenantCtx, config: MicrosoftConfig) {
  const rows = await t.db.idpConnection.findMany({ where: { kind: 'oidc' }, select: { id: true, name: true, issuer: true, enabled: true, config: true } });
  return rows
    .filter((r) => (r.config as { oidc?: { clientId?: string } }).oidc?.clientId === config.clientId)
    .map((r) => ({ id: r.id, name: r.name, enabled: r.enabled, entraTenant: entraTenantOfIssuer(config, r.issuer) }))
    .filter((r): r is typeof r & { entraTenant: string } => r.entraTenant !== null);
}

/**
 * Proves the client secret or certificate with a real client-credentials token request (RFC 6749 §4.4) for Graph's
 * `.default` scope at the app's Entra tenant, known from an Entra OIDC connection of the same app. Entra answers
 * `invalid_client` (AADSTS7000215 wrong secret, AADSTS700027 bad assertion) for credentials it refuses.
 */
export async function checkMicrosoftCredential(
  t: TenantCtx,
  config: MicrosoftConfig,
  credential: MicrosoftCredential,
  now: number,
  fetch: Egress['fetch'],
): Promise<CredentialCheck> {
  const conn = (await entraConnections(t, config)).find((c) => c.enabled);
  if (!conn) return { result: 'skipped', reason: 'no enabled Entra OIDC connection for this client id: add it with "idp add-oidc --issuer <authority>/<tenant>/v2.0 --client-id <same id>"' };
  try {
    const cca = await msalClient(config, credential, conn.entraTenant, now, fetch);
    await cca.acquireTokenByClientCredential({ scopes: [`${config.graphEndpoint}/.default`], skipCache: true });
    return { result: 'accepted', tenant: conn.entraTenant };
  } catch (err) {
    if (err instanceof AuthError && (err.errorCode === 'invalid_client' || err.errorCode === 'unauthorized_client' || /AADSTS(7000215|700027|700016)/.test(err.errorMessage))) {
      return { result: 'refused', tenant: conn.entraTenant, error: `${err.errorCode}: ${err.errorMessage.split('\n')[0]!.slice(0, 200)}` };
    }
    return { result: 'unreachable', tenant: conn.entraTenant, error: String((err as Error).message ?? err).split('\n')[0]!.slice(0, 200) };
  }
}
