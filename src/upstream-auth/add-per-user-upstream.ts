import { AppError, badRequest } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { syncToolsAs } from './list-tools-as.js';
import { JWT_BEARER, ID_JAG_PROFILE } from '../oauth/cross-app/grant-types.js';
import { discoverUpstreamAs, type DiscoveredAs } from './discover-upstream-as.js';
import { disconnectUpstream } from './disconnect-upstream.js';
import { saveOAuthClient } from './upstream-oauth-client.js';
import { clientMetadataDocumentUrl, connectUrl, upstreamCallbackUrl } from './upstream-oauth-urls.js';

export const AUTH_MODES = ['static', 'oauth-per-user', 'id-jag'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];
export type PerUserMode = Exclude<AuthMode, 'static'>;

export interface PerUserAuthOptions {
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  connectAtConsent?: boolean;
  /** `id-jag`: the tenant's OIDC connection whose IdP mints the ID-JAGs (default: its only OIDC connection). */
  idp?: string;
}

/** `--auth` as given: one of the modes. */
export function parseAuthMode(value: string | undefined): AuthMode {
  if (value === undefined || value === '') return 'static';
  if ((AUTH_MODES as readonly string[]).includes(value)) return value as AuthMode;
  throw badRequest(`--auth must be one of: ${AUTH_MODES.join(', ')}`);
}

/** Options of another mode make no sense: refuse them rather than ignore them. */
export function checkAuthOptions(mode: AuthMode, o: PerUserAuthOptions): void {
  if (mode === 'static' && (o.clientId || o.clientSecret || o.scope || o.connectAtConsent)) {
    throw badRequest('--client-id, --client-secret, --scope and --connect-at-consent need --auth oauth-per-user or id-jag');
  }
  if (mode !== 'id-jag' && o.idp) throw badRequest('--idp needs --auth id-jag');
  // No connect step exists for an id-jag upstream: the user's company sign-in is the connection.
  if (mode === 'id-jag' && o.connectAtConsent) throw badRequest('--connect-at-consent needs --auth oauth-per-user (id-jag upstreams need no connecting)');
  if (o.clientSecret && !o.clientId) throw badRequest('--client-secret needs --client-id');
  if (o.scope !== undefined && !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(o.scope)) throw badRequest('--scope: space-separated scope tokens (RFC 6749 §3.3)');
}

/**
 * `upstream add --auth oauth-per-user|id-jag`: discovers the upstream's authorization server the MCP way, records how
 * the gateway is registered there, and stores the upstream with no tools yet: such a server lists nothing without a
 * user's token, so its tools are listed the first time someone (typically the admin) connects at the printed URL
 * (`oauth-per-user`) or with `upstream refresh --user` (`id-jag`: any user who signed in with the IdP).
 */
export async function addPerUserUpstream(
  s: Services,
  t: TenantCtx,
  input: { name: string; url: string; headers: Record<string, string> },
  o: PerUserAuthOptions,
  mode: PerUserMode = 'oauth-per-user',
) {
  const as = await discoverUpstreamAs(input.url, s.egress, { pkce: mode === 'oauth-per-user' });
  const idJagConnectionId = mode === 'id-jag' ? await checkIdJagUpstream(t, as, o.idp) : null;
  const id = newId('ups');
  await t.db.upstream.create({ data: { id, tenantId: t.id, name: input.name, url: input.url, authMode: mode } });
  try {
    if (Object.keys(input.headers).length > 0) {
      const secretId = await s.vault.put(t, { kind: 'upstream-headers', id }, JSON.stringify(input.headers));
      await t.db.upstream.updateMany({ where: { id }, data: { headersSecretId: secretId } });
    }
    const registration = await saveOAuthClient(s, t, id, as, { ...o, connectAtConsent: o.connectAtConsent ?? false, idJagConnectionId });
    await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
    return {
      id,
      name: input.name,
      tools: [] as string[],
      auth: mode,
      authorizationServer: as.issuer,
      registration,
      ...(mode === 'oauth-per-user' ? { connectUrl: connectUrl(s.config.publicUrl, t, input.name), redirectUri: upstreamCallbackUrl(s.config.publicUrl, t, id) } : { idp: idJagConnectionId! }),
      ...(registration === 'cimd' && { clientId: clientMetadataDocumentUrl(s.config.publicUrl, t) }),
    };
  } catch (err) {
    // Nothing of a failed add stays behind: the credentials it stored (the admin's headers, a client secret) with it.
    const secrets = await t.db.vaultSecret.findMany({ where: { ownerKind: { in: ['upstream-headers', 'upstream-oauth-client'] }, ownerId: id }, select: { id: true } });
    await t.db.upstream.deleteMany({ where: { id } });
    for (const secret of secrets) await s.vault.remove(t, secret.id);
    throw err;
  }
}

/**
 * `upstream refresh` of a per-user upstream: lists its tools with the token of `asUser` (id-jag: obtained for them
 * by ID-JAG if need be), else of the most recently connected user.
 */
export async function refreshPerUserUpstream(s: Services, t: TenantCtx, up: { id: string; name: string; url: string; authMode: string }, asUser?: string) {
  const conn = await t.db.upstreamConnection.findFirst({ where: { upstreamId: up.id, status: 'connected' }, orderBy: { connectedAt: 'desc' } });
  const userId = asUser ?? conn?.userId;
  if (!userId || !s.upstreams.credentials) {
    const how = up.authMode === 'id-jag' ? 'pass --user with a user who signed in with the IdP' : `connect at ${connectUrl(s.config.publicUrl, t, up.name)} first`;
    throw new AppError(422, 'upstream_not_connected', `Nobody has connected ${up.name} yet: ${how}`);
  }
  const creds = await s.upstreams.credentials.forCall(t, { id: up.id, url: up.url, headersSecretId: null, updatedAt: new Date(0), authMode: up.authMode }, userId);
  const token = creds.headers.Authorization!.replace(/^Bearer /, '');
  return syncToolsAs(s, t, up, token);
}

/** Before an upstream is removed: its users' connections end (here and, with RFC 7009, there) and its client secret. */
export async function removePerUserState(s: Services, t: TenantCtx, upstreamId: string): Promise<void> {
  for (const c of await t.db.upstreamConnection.findMany({ where: { upstreamId }, select: { userId: true } })) await disconnectUpstream(s, t, c.userId, upstreamId);
  const client = await t.db.upstreamOAuthClient.findFirst({ where: { upstreamId }, select: { clientSecretId: true } });
  if (client?.clientSecretId) await s.vault.remove(t, client.clientSecretId);
}

/**
 * `--auth id-jag` at add time: the upstream's AS must take ID-JAGs (RFC 8414 metadata `grant_types_supported` with
 * jwt-bearer and `authorization_grant_profiles_supported` with the ID-JAG profile, IDJAG §6 / EMA §4), and the IdP
 * that mints them must be an enabled OIDC connection of this tenant. Returns that connection's id.
 */
async function checkIdJagUpstream(t: TenantCtx, as: DiscoveredAs, idp: string | undefined): Promise<string> {
  const m = as.metadata as { grant_types_supported?: unknown; authorization_grant_profiles_supported?: unknown };
  const has = (list: unknown, v: string) => Array.isArray(list) && list.includes(v);
  if (!has(m.authorization_grant_profiles_supported, ID_JAG_PROFILE) || !has(m.grant_types_supported, JWT_BEARER)) {
    throw new AppError(
      422,
      'upstream_no_id_jag',
      `The upstream's authorization server (${as.issuer}) does not advertise the ID-JAG profile (authorization_grant_profiles_supported with ${ID_JAG_PROFILE} and grant_types_supported with jwt-bearer): use --auth oauth-per-user`,
    );
  }
  const oidcConns = await t.db.idpConnection.findMany({ where: { kind: 'oidc', enabled: true, ...(idp && { id: idp }) }, select: { id: true } });
  if (idp && oidcConns.length === 0) throw badRequest(`--idp ${idp}: no enabled OIDC connection of this tenant has that id (ID-JAGs come from an OIDC IdP)`);
  if (oidcConns.length !== 1) throw badRequest(oidcConns.length === 0 ? '--auth id-jag needs an enabled OIDC IdP connection (idp add-oidc)' : 'Several OIDC IdP connections: choose the one that mints ID-JAGs with --idp');
  return oidcConns[0]!.id;
}
