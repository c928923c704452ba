import type { Prisma } from '../generated/prisma/client.js';
import { badRequest, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { newSecretToken } from '../lib/secrets.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { ADMIN_REGISTERED, ID_JAG_IDPS, PURPOSE } from './client-policy.js';
import { vaultClientSecrets } from './client-secrets.js';
import { CROSS_APP_GRANTS, type CrossAppGrantName } from './cross-app/grant-types.js';
import { prismaAdapterFactory } from './prisma-adapter.js';
import { revokeGrants } from './revoke-grants.js';

export interface NewClient {
  name: string;
  redirectUris: string[];
  /** A machine client for SCIM provisioning (Entra): client credentials, scope `scim`, audience the SCIM base URL. */
  scim?: boolean;
  /** A confidential client (gets a secret). SCIM clients always are. */
  confidential?: boolean;
  tokenAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Cross-app grants (docs/cross-app-access.md); they make the client confidential. */
  grants?: CrossAppGrantName[];
  /** Only these ID-JAG issuer connections may vouch for the client (default: any of the tenant's). */
  idJagIdps?: string[];
}

/**
 * Registers a client as an administrator (the "pre-registered" path, which takes precedence over CIMD and DCR).
 * The metadata is validated by the tenant's own provider; the secret goes to the vault and is shown once.
 */
export async function addClient(s: Services, t: TenantCtx, input: NewClient) {
  if (!input.name.trim()) throw badRequest('--name is required');
  const extraGrants = (input.grants ?? []).map((g) => CROSS_APP_GRANTS[g]);
  if (input.scim && extraGrants.length) throw badRequest('--grant is for MCP clients, not SCIM clients');
  // IDJAG §5 and RFC 8693 §2.1: these grants are for clients that authenticate.
  const confidential = input.scim || input.confidential || extraGrants.length > 0;
  if (input.idJagIdps?.length) {
    if (!input.grants?.includes('jwt-bearer')) throw badRequest('--id-jag-idp needs --grant jwt-bearer');
    for (const id of input.idJagIdps) {
      const conn = await t.db.idpConnection.findFirst({ where: { id, kind: 'oidc' } });
      if (!conn) throw badRequest(`No OIDC connection ${id}`);
    }
  }
  const clientId = newId('cli');
  const secret = confidential ? newSecretToken('sbc') : undefined;
  const metadata: Record<string, unknown> = input.scim
    ? {
        client_id: clientId,
        client_name: input.name,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'scim',
        token_endpoint_auth_method: input.tokenAuthMethod ?? 'client_secret_post',
        [PURPOSE]: 'scim',
      }
    : {
        client_id: clientId,
        client_name: input.name,
        // A client that only redeems assertions has no redirect URI, hence no browser flow.
        grant_types: [
          ...(extraGrants.length && !input.redirectUris.length ? [] : ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']),
          ...extraGrants,
        ],
        response_types: extraGrants.length && !input.redirectUris.length ? [] : ['code'],
        redirect_uris: input.redirectUris,
        token_endpoint_auth_method: confidential ? (input.tokenAuthMethod ?? 'client_secret_basic') : 'none',
        [ADMIN_REGISTERED]: true,
        ...(input.idJagIdps?.length && { [ID_JAG_IDPS]: input.idJagIdps }),
      };
  if (secret) metadata.client_secret = secret;
  const provider = await s.oauthProviders.get(t);
  try {
    await provider.Client.validate(metadata as never);
  } catch (err) {
    throw badRequest(`Invalid client: ${(err as { error_description?: string; message: string }).error_description ?? (err as Error).message}`);
  }
  const adapter = prismaAdapterFactory(t, { clock: s.clock, secrets: vaultClientSecrets(s.vault), onGrantRevoked: async () => {} })('Client');
  await adapter.upsert(clientId, metadata as Prisma.JsonObject, undefined);
  return {
    id: clientId,
    client_id: clientId,
    ...(secret ? { client_secret: secret } : {}),
    ...(input.scim ? { token_endpoint: `${provider.issuer}/oauth/token`, scope: 'scim', audience: `${provider.issuer}/scim/v2` } : {}),
  };
}

export async function listClients(t: TenantCtx) {
  const rows = await t.db.oidcPayload.findMany({ where: { model: 'Client' }, orderBy: { createdAt: 'asc' } });
  return rows.map((r) => {
    const p = r.payload as Record<string, unknown>;
    return { client_id: r.id, client_name: p.client_name ?? null, grant_types: p.grant_types ?? [], redirect_uris: p.redirect_uris ?? [], scim: p[PURPOSE] === 'scim', createdAt: r.createdAt };
  });
}

/** Removes a client: its grants end (tokens stop verifying on every node) and its secret leaves the vault. */
export async function removeClient(s: Services, t: TenantCtx, clientId: string) {
  const row = await t.db.oidcPayload.findFirst({ where: { model: 'Client', id: clientId } });
  if (!row) throw notFound(`No client ${clientId}`);
  const grants = await t.db.oidcPayload.findMany({ where: { model: 'Grant', payload: { path: ['clientId'], equals: clientId } }, select: { id: true } });
  await revokeGrants(s, t, grants.map((g) => g.id));
  await t.db.oidcPayload.deleteMany({ where: { model: 'Client', id: clientId } });
  await vaultClientSecrets(s.vault).remove(t, clientId);
  // Client-credentials tokens are cached by the verifier until they expire: tell every node.
  await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  return { id: clientId, removed: true };
}

