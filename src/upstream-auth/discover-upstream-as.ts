import { discoverOAuthServerInfo, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { checkResourceAllowed } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../lib/errors.js';
import type { Egress } from '../http/egress.js';
import { asFetch } from './as-fetch.js';

export interface DiscoveredAs {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  /** The `resource` to request (RFC 8707): the upstream's MCP URL, as its protected resource metadata names it. */
  resource: string;
  /** The PRM's scopes_supported, or the 401 challenge's scope: what to ask for when the admin named none. */
  scope: string | undefined;
}

const fail = (url: string, why: string) => new AppError(422, 'upstream_auth_discovery', `Could not discover the authorization server of ${url}: ${why}`);

/**
 * MCP authorization discovery (2025-11-25, "Authorization Server Discovery"): an unauthenticated initialize earns a
 * 401 whose `WWW-Authenticate` names the protected resource metadata (RFC 9728 §5.1; without it the well-known URIs
 * are probed), which names the authorization server, whose RFC 8414 / OIDC metadata is read. Checks the client
 * MUST make: the PRM's `resource` matches the URL we dialled (RFC 9728 §3.3), the metadata's `issuer` is the server
 * we asked (RFC 8414 §3.3), and PKCE S256 is advertised (absent ⇒ refuse) unless no code flow will be used.
 */
export async function discoverUpstreamAs(url: string, egress: Egress, opts: { pkce?: boolean } = {}): Promise<DiscoveredAs> {
  let challenge: { resourceMetadataUrl?: URL; scope?: string } = {};
  try {
    const res = await asFetch(egress)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'probe',
        method: 'initialize',
        params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'sso-bridge-gateway', version: '0.1.0' } },
      }),
    });
    if (res.status === 401) challenge = extractWWWAuthenticateParams(res);
    await res.body?.cancel();
  } catch {
    throw fail(url, 'the server did not answer');
  }
  let info;
  try {
    info = await discoverOAuthServerInfo(url, { resourceMetadataUrl: challenge.resourceMetadataUrl, fetchFn: asFetch(egress) });
  } catch (err) {
    throw fail(url, String(err).slice(0, 200));
  }
  const metadata = info.authorizationServerMetadata;
  if (!metadata) throw fail(url, 'no RFC 8414 or OpenID Connect metadata');
  if (stripSlash(metadata.issuer) !== stripSlash(info.authorizationServerUrl)) throw fail(url, `the metadata's issuer ${metadata.issuer} is not ${info.authorizationServerUrl}`);
  // PKCE protects the code flow; an `id-jag` upstream is never sent through one (decision 0027).
  if (opts.pkce !== false && !metadata.code_challenge_methods_supported?.includes('S256')) throw fail(url, 'the authorization server does not advertise PKCE S256');
  const prm = info.resourceMetadata;
  const resource = prm?.resource ?? url;
  if (prm && !checkResourceAllowed({ requestedResource: url, configuredResource: prm.resource })) throw fail(url, `its metadata is for ${prm.resource}`);
  return { issuer: metadata.issuer, metadata, resource, scope: challenge.scope ?? prm?.scopes_supported?.join(' ') };
}

const stripSlash = (u: string) => u.replace(/\/+$/, '');
