import { Router } from 'express';
import type { Services } from '../services.js';
import { resolveTenant, tenantOf } from '../http/resolve-tenant.js';
import { MCP_SCOPES, mcpResourceUrl, tenantIssuer } from './mcp-resource.js';

/**
 * RFC 9728 protected-resource metadata, path-inserted: `/.well-known/oauth-protected-resource/t/{slug}/mcp`.
 * `resource` is byte-identical to the MCP URL clients dialled (§3.3); public, cacheable, CORS-enabled so browser-based
 * clients can discover the authorization server.
 */
export function protectedResourceMetadataRoutes(s: Services): Router {
  const router = Router();
  const path = '/.well-known/oauth-protected-resource/t/:slug/mcp';
  router.options(path, (_req, res) => {
    res.set({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET, OPTIONS', 'Access-Control-Max-Age': '86400' }).status(204).end();
  });
  router.get(path, resolveTenant(s.tenants), (_req, res) => {
    const t = tenantOf(res);
    res.set({ 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'public, max-age=300' }).json({
      resource: mcpResourceUrl(s.config.publicUrl, t),
      authorization_servers: [tenantIssuer(s.config.publicUrl, t)],
      scopes_supported: MCP_SCOPES,
      bearer_methods_supported: ['header'],
      resource_name: `${t.name} MCP tools`,
    });
  });
  return router;
}
