import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The scope an access token needs for the MCP endpoint: the minimal baseline advertised in the protected-resource
 * metadata and in every challenge (MCP 2025-11-25 security best practices: list the baseline, not every tool).
 * The authorization server grants it for the tenant's MCP resource.
 */
export const MCP_SCOPE = 'mcp:tools';
export const MCP_SCOPES: readonly string[] = [MCP_SCOPE];

/**
 * The tenant's MCP URL, which is also its RFC 8707 resource identifier and the audience of its tokens. It must be
 * byte-identical wherever it appears (PRM `resource`, token `aud`): no trailing slash.
 */
export function mcpResourceUrl(publicUrl: string, t: Pick<TenantCtx, 'slug'>): string {
  return `${publicUrl}/t/${t.slug}/mcp`;
}

/** RFC 9728 §3.1: the metadata URL inserts `/.well-known/oauth-protected-resource` between host and path. */
export function protectedResourceMetadataUrl(publicUrl: string, t: Pick<TenantCtx, 'slug'>): string {
  return `${metadataPrefix(publicUrl)}/t/${t.slug}/mcp`;
}

/** The metadata URL up to the tenant path, parsed once per public URL: the MCP endpoint needs it on every request. */
let lastPrefix: { publicUrl: string; prefix: string } | undefined;
function metadataPrefix(publicUrl: string): string {
  if (lastPrefix?.publicUrl !== publicUrl) {
    const u = new URL(publicUrl);
    lastPrefix = { publicUrl, prefix: `${u.origin}/.well-known/oauth-protected-resource${u.pathname.replace(/\/+$/, '')}` };
  }
  return lastPrefix.prefix;
}

/** The tenant's authorization server issuer. */
export function tenantIssuer(publicUrl: string, t: Pick<TenantCtx, 'slug'>): string {
  return `${publicUrl}/t/${t.slug}`;
}
