import { AppError, badRequest } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { syncToolsAs } from './list-tools-as.js';
import { discoverUpstreamAs } from './discover-upstream-as.js';
import { disconnectUpstream } from './disconnect-upstream.js';
import { saveOAuthClient } from './upstream-oauth-client.js';
import { clientMetadataDocumentUrl, connectUrl, upstreamCallbackUrl } from './upstream-oauth-urls.js';

export const AUTH_MODES = ['static', 'oauth-per-user'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface PerUserAuthOptions {
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  connectAtConsent?: boolean;
}

/** `--auth` as given: one of the modes; `id-jag` is named in the contract but not offered yet. */
export function parseAuthMode(value: string | undefined): AuthMode {
  if (value === undefined || value === '') return 'static';
  if ((AUTH_MODES as readonly string[]).includes(value)) return value as AuthMode;
  if (value === 'id-jag') throw badRequest('--auth id-jag is not available yet: use oauth-per-user');
  throw badRequest(`--auth must be one of: ${AUTH_MODES.join(', ')}`);
}

/** Per-user options make no sense for a static upstream: refuse them rather than ignore them. */
export function checkAuthOptions(mode: AuthMode, o: PerUserAuthOptions): void {
  if (mode === 'static' && (o.clientId || o.clientSecret || o.scope || o.connectAtConsent)) {
    throw badRequest('--client-id, --client-secret, --scope and --connect-at-consent need --auth oauth-per-user');
  }
  if (o.clientSecret && !o.clientId) throw badRequest('--client-secret needs --client-id');
  if (o.scope !== undefined && !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(o.scope)) throw badRequest('--scope: space-separated scope tokens (RFC 6749 §3.3)');
}

/**
 * `upstream add --auth oauth-per-user`: discovers the upstream's authorization server the MCP way, records how the
 * gateway is registered there, and stores the upstream with no tools yet: such a server lists nothing without a
 * user's token, so its tools are listed the first time someone (typically the admin) connects at the printed URL.
 */
export async function addPerUserUpstream(
  s: Services,
  t: TenantCtx,
  input: { name: string; url: string; headers: Record<string, string> },
  o: PerUserAuthOptions,
) {
  const as = await discoverUpstreamAs(input.url);
  const id = newId('ups');
  await t.db.upstream.create({ data: { id, tenantId: t.id, name: input.name, url: input.url, authMode: 'oauth-per-user' } });
  try {
    if (Object.keys(input.headers).length > 0) {
      const secretId = await s.vault.put(t, { kind: 'upstream-headers', id }, JSON.stringify(input.headers));
      await t.db.upstream.updateMany({ where: { id }, data: { headersSecretId: secretId } });
    }
    const registration = await saveOAuthClient(s, t, id, as, { ...o, connectAtConsent: o.connectAtConsent ?? false });
    await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
    return {
      id,
      name: input.name,
      tools: [] as string[],
      auth: 'oauth-per-user' as const,
      authorizationServer: as.issuer,
      registration,
      connectUrl: connectUrl(s.config.publicUrl, t, input.name),
      redirectUri: upstreamCallbackUrl(s.config.publicUrl, t),
      ...(registration === 'cimd' && { clientId: clientMetadataDocumentUrl(s.config.publicUrl, t) }),
    };
  } catch (err) {
    await t.db.upstream.deleteMany({ where: { id } });
    throw err;
  }
}

/** `upstream refresh` of a per-user upstream: lists its tools with the token of the most recently connected user. */
export async function refreshPerUserUpstream(s: Services, t: TenantCtx, up: { id: string; name: string; url: string; authMode: string }) {
  const conn = await t.db.upstreamConnection.findFirst({ where: { upstreamId: up.id, status: 'connected' }, orderBy: { connectedAt: 'desc' } });
  if (!conn || !s.upstreams.credentials) {
    throw new AppError(422, 'upstream_not_connected', `Nobody has connected ${up.name} yet: connect at ${connectUrl(s.config.publicUrl, t, up.name)} first`);
  }
  const creds = await s.upstreams.credentials.forCall(t, { id: up.id, url: up.url, headersSecretId: null, updatedAt: new Date(0), authMode: up.authMode }, conn.userId);
  const token = creds.headers.Authorization!.replace(/^Bearer /, '');
  return syncToolsAs(s, t, up, token);
}

/** Before an upstream is removed: its users' connections end (here and, with RFC 7009, there) and its client secret. */
export async function removePerUserState(s: Services, t: TenantCtx, upstreamId: string): Promise<void> {
  for (const c of await t.db.upstreamConnection.findMany({ where: { upstreamId }, select: { userId: true } })) await disconnectUpstream(s, t, c.userId, upstreamId);
  const client = await t.db.upstreamOAuthClient.findFirst({ where: { upstreamId }, select: { clientSecretId: true } });
  if (client?.clientSecretId) await s.vault.remove(t, client.clientSecretId);
}
