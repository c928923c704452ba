import { registerClient } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed, OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { AppError, badRequest } from '../lib/errors.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { asFetch } from './as-fetch.js';
import type { DiscoveredAs } from './discover-upstream-as.js';
import { clientMetadataDocumentUrl, upstreamCallbackUrl } from './upstream-oauth-urls.js';

export type Registration = 'preregistered' | 'cimd' | 'dcr';

/** Everything a token request to the upstream's authorization server needs. */
export interface UpstreamOAuthClient {
  upstreamId: string;
  upstreamName: string;
  upstreamUrl: string;
  registration: Registration;
  clientInformation: OAuthClientInformationMixed;
  asUrl: string;
  metadata: AuthorizationServerMetadata;
  resource: string;
  scope: string | undefined;
  redirectUri: string;
}

interface StoredMetadata {
  authorizationServer: AuthorizationServerMetadata;
  resource: string;
}

/**
 * The client metadata we publish (CIMD: the redirect URIs of every upstream known by that document) and send when
 * registering dynamically (RFC 7591 §2: the one upstream's redirect URI).
 */
export function gatewayClientMetadata(s: Services, t: TenantCtx, redirectUris: string[]): OAuthClientMetadata {
  return {
    client_name: `${t.name} (SSO Bridge for MCP)`,
    client_uri: s.config.publicUrl,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    // A server-side web application (the 2026-07-28 revision makes application_type mandatory for DCR).
    application_type: 'web',
  } as OAuthClientMetadata;
}

/** Whether the server promises `iss` in its authorization responses (RFC 9207 §3). */
export const promisesIss = (metadata: AuthorizationServerMetadata) =>
  (metadata as { authorization_response_iss_parameter_supported?: boolean }).authorization_response_iss_parameter_supported === true;

/**
 * How the gateway is known to the upstream's authorization server, in the MCP order of preference (2025-11-25,
 * "Client Registration Approaches"): credentials the admin registered there win; otherwise our Client ID Metadata
 * Document when the server supports it and PUBLIC_URL is https (CIMD client ids are https URLs); Dynamic Client
 * Registration only as the last resort.
 *
 * A metadata document is a registration every CIMD server honours, so its redirect URIs cannot tell servers apart:
 * for authorization-code flows it is used only with servers that identify themselves in their responses (RFC 9207),
 * and every response of such a flow must then carry the right `iss` (decision 0060).
 */
export function chooseRegistration(s: Services, as: DiscoveredAs, adminClientId: string | undefined, idJag = false): Registration {
  if (adminClientId) return 'preregistered';
  const cimd = (as.metadata as { client_id_metadata_document_supported?: boolean }).client_id_metadata_document_supported === true;
  if (cimd && s.config.publicUrl.startsWith('https://') && (idJag || promisesIss(as.metadata))) return 'cimd';
  // An ID-JAG names the client it is for (`client_id`): the IdP's admin registers that client, so it is never DCR's.
  if (idJag) throw badRequest(`--auth id-jag: the upstream's authorization server (${as.issuer}) does not support client metadata documents (or PUBLIC_URL is not https): register a client there and pass --client-id (and --client-secret-file)`);
  if (as.metadata.registration_endpoint) return 'dcr';
  if (cimd && s.config.publicUrl.startsWith('https://')) {
    throw badRequest(`The upstream's authorization server (${as.issuer}) supports client metadata documents but does not identify itself in authorization responses (RFC 9207 authorization_response_iss_parameter_supported), and offers no dynamic registration: register a client there and pass --client-id (and --client-secret-file)`);
  }
  throw badRequest(`The upstream's authorization server (${as.issuer}) supports neither client metadata documents nor dynamic registration: register a client there and pass --client-id (and --client-secret-file)`);
}

/** Stores what discovery found and the registration choice (`upstream add --auth oauth-per-user|id-jag`). */
export async function saveOAuthClient(
  s: Services,
  t: TenantCtx,
  upstreamId: string,
  as: DiscoveredAs,
  opts: { clientId?: string; clientSecret?: string; scope?: string; connectAtConsent: boolean; idJagConnectionId?: string | null },
): Promise<Registration> {
  const registration = chooseRegistration(s, as, opts.clientId, !!opts.idJagConnectionId);
  const clientSecretId = opts.clientSecret ? await s.vault.put(t, { kind: 'upstream-oauth-client', id: upstreamId }, opts.clientSecret) : null;
  const metadata: StoredMetadata = { authorizationServer: as.metadata, resource: as.resource };
  await t.db.upstreamOAuthClient.create({
    data: {
      upstreamId,
      tenantId: t.id,
      registration,
      clientId: registration === 'preregistered' ? opts.clientId! : null,
      clientSecretId,
      scope: opts.scope ?? as.scope ?? null,
      connectAtConsent: opts.connectAtConsent,
      idJagConnectionId: opts.idJagConnectionId ?? null,
      issuer: as.issuer,
      metadata: metadata as object,
      discoveredAt: s.clock.now(),
    },
  });
  return registration;
}

/** The upstream's OAuth client, registering by DCR first when needed (or again when PUBLIC_URL changed). */
export async function loadOAuthClient(s: Services, t: TenantCtx, upstreamId: string): Promise<UpstreamOAuthClient> {
  const up = await t.db.upstream.findFirst({ where: { id: upstreamId }, include: { oauthClient: true } });
  const row = up?.oauthClient;
  if (!up || !row || !row.metadata || !row.issuer) throw new AppError(404, 'not_found', 'This upstream does not use per-user OAuth');
  const stored = row.metadata as unknown as StoredMetadata;
  const shared = row.sharedRedirectUri && row.registration !== 'cimd';
  let redirectUri = upstreamCallbackUrl(s.config.publicUrl, t, shared ? null : upstreamId);
  let clientInformation: OAuthClientInformationMixed;
  if (row.registration === 'cimd') {
    clientInformation = { client_id: clientMetadataDocumentUrl(s.config.publicUrl, t) };
  } else if (row.registration === 'preregistered' || (row.clientId && row.redirectUri === redirectUri)) {
    const secret = row.clientSecretId ? await s.vault.getString(t, row.clientSecretId) : undefined;
    clientInformation = { client_id: row.clientId!, ...(secret && { client_secret: secret }) };
  } else {
    // A new registration (none yet, or PUBLIC_URL changed) always takes the upstream's own redirect URI.
    redirectUri = upstreamCallbackUrl(s.config.publicUrl, t, upstreamId);
    clientInformation = await registerDynamically(s, t, upstreamId, stored.authorizationServer, row.issuer, row.clientSecretId, redirectUri);
  }
  return {
    upstreamId,
    upstreamName: up.name,
    upstreamUrl: up.url,
    registration: row.registration as Registration,
    clientInformation,
    asUrl: row.issuer,
    metadata: stored.authorizationServer,
    resource: stored.resource,
    scope: row.scope ?? undefined,
    redirectUri,
  };
}

/** RFC 7591 registration; the client (and its secret, in the vault) is kept for every later flow and refresh. */
async function registerDynamically(
  s: Services,
  t: TenantCtx,
  upstreamId: string,
  metadata: AuthorizationServerMetadata,
  issuer: string,
  oldSecretId: string | null,
  redirectUri: string,
): Promise<OAuthClientInformationMixed> {
  let info;
  try {
    // No `scope` in the registration (RFC 7591 §2 makes it optional): servers validate it against their own OP
    // scopes, while ours are the protected resource's; the authorization request asks for them.
    info = await registerClient(issuer, { metadata, clientMetadata: gatewayClientMetadata(s, t, [redirectUri]), fetchFn: asFetch(s.egress) });
  } catch (err) {
    throw new AppError(502, 'upstream_registration_failed', "Could not register with the upstream's authorization server", String(err).slice(0, 300));
  }
  const clientSecretId = info.client_secret ? await s.vault.put(t, { kind: 'upstream-oauth-client', id: upstreamId }, info.client_secret) : null;
  await t.db.upstreamOAuthClient.updateMany({
    where: { upstreamId },
    data: { clientId: info.client_id, clientSecretId, redirectUri, sharedRedirectUri: false },
  });
  if (oldSecretId) await s.vault.remove(t, oldSecretId);
  return { client_id: info.client_id, ...(info.client_secret && { client_secret: info.client_secret }) };
}

/**
 * `upstream own-redirect-uri`: moves a client registered with the tenant's shared callback (before decision 0060) to
 * the upstream's own redirect URI. Pre-registered: register the printed URI at the upstream's server first. Dynamic
 * registration: the gateway registers again on next use, so connected users connect once more.
 */
export async function useOwnRedirectUri(s: Services, t: TenantCtx, upstreamName: string) {
  const up = await t.db.upstream.findFirst({ where: { name: upstreamName, authMode: 'oauth-per-user' }, include: { oauthClient: true } });
  if (!up?.oauthClient) throw new AppError(404, 'not_found', `No per-user (oauth-per-user) upstream named "${upstreamName}"`);
  const moved = up.oauthClient.sharedRedirectUri && up.oauthClient.registration !== 'cimd';
  if (moved) await t.db.upstreamOAuthClient.updateMany({ where: { upstreamId: up.id }, data: { sharedRedirectUri: false } });
  return {
    id: up.id,
    name: up.name,
    registration: up.oauthClient.registration as Registration,
    redirectUri: upstreamCallbackUrl(s.config.publicUrl, t, up.id),
    moved,
    ...(moved && up.oauthClient.registration === 'dcr' && { reconnect: 'registered again on next use: connected users connect once more' }),
  };
}
