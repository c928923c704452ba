import { Router } from 'express';
import type { Services } from '../services.js';
import { jsonBody } from './body.js';
import { healthRoutes } from './health.js';
import { resolveTenant } from './resolve-tenant.js';
import { mcpRoutes } from '../mcp/mcp-routes.js';
import { protectedResourceMetadataRoutes } from '../mcp/prm-routes.js';
import { scimRoutes } from '../scim/scim-routes.js';

/**
 * The whole route table. Root-level routes first (health, path-inserted well-known metadata), then the tenant space
 * `/t/:slug/…`, whose tenant is resolved once here and handed to each capability's router.
 */
export function buildRoutes(s: Services): Router {
  const root = Router();
  root.use(healthRoutes(s));
  root.use(protectedResourceMetadataRoutes(s));

  const tenant = Router({ mergeParams: true });
  // Capability routers mount here, one line each, e.g. tenant.use('/scim/v2', scimRoutes(s)).
  tenant.use('/scim/v2', scimRoutes(s));
  tenant.use('/mcp', mcpRoutes(s));
  // The tenant JSON API (api/me, later the admin console's API): bodies parsed with the default limits.
  const api = Router({ mergeParams: true });
  api.use(jsonBody());
  tenant.use('/api', api);

  root.use('/t/:slug', resolveTenant(s.db), tenant);
  return root;
}
