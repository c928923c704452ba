import { Router } from 'express';
import type { Services } from '../services.js';
import { jsonBody } from './body.js';
import { healthRoutes } from './health.js';
import { resolveTenant } from './resolve-tenant.js';
import { pageSecurityHeaders } from './security-headers.js';
import { protectedResourceMetadataRoutes } from '../mcp/prm-routes.js';
import { scimRoutes } from '../scim/scim-routes.js';
import { oauthRootRoutes, oauthTenantRoutes } from '../oauth/oauth-routes.js';
import { interactionRoutes } from '../consent/interaction-routes.js';
import { connectedAppsRoutes } from '../consent/connected-apps-routes.js';
import { connectedAppsPage } from '../consent/connected-apps-page.js';
import { upstreamConnectRoutes } from '../upstream-auth/connect-routes.js';
import { meRoutes } from '../sso/http/me-route.js';
import { sharedOidcCallbackRoutes } from '../sso/http/shared-callback-route.js';
import { ssoRoutes } from '../sso/http/sso-routes.js';
import { gtrRoutes } from '../universal-logout/gtr-routes.js';
import { auditAdminRoutes } from '../audit/audit-admin-routes.js';
import { adminApiRoutes } from '../admin/http/admin-api-routes.js';
import { consoleRoutes } from '../admin/http/console-routes.js';
import { onboardingRoutes } from '../onboarding/onboarding-routes.js';
import { operatorRoutes } from '../operator/operator-routes.js';

/**
 * The Express route table: root-level routes (health, path-inserted well-known metadata), then the tenant space
 * `/t/:slug/…`, whose tenant is resolved once here and handed to each capability's router. The tenant's MCP endpoint
 * `/t/:slug/mcp` is not here: app.ts sends it to src/mcp/mcp-endpoint.ts on plain node:http, in front of Express.
 */
export function buildRoutes(s: Services): Router {
  const root = Router();
  // Everything here (and the 404 and error answers after the table) gets the full page set.
  root.use(pageSecurityHeaders());
  root.use(healthRoutes(s));
  root.use(protectedResourceMetadataRoutes(s));
  root.use(oauthRootRoutes(s));
  root.use(sharedOidcCallbackRoutes(s));
  root.use(onboardingRoutes(s)); // /signup, /setup/{token}, /onboarding/entra/*, /onboarding/google/*
  root.use('/operator', operatorRoutes(s)); // the service's own operators (src/operator, decision 0033)

  const tenant = Router({ mergeParams: true });
  // Capability routers mount here, one line each, e.g. tenant.use('/scim/v2', scimRoutes(s)).
  tenant.use('/scim/v2', scimRoutes(s));
  tenant.use(interactionRoutes(s));
  tenant.use(connectedAppsPage(s));
  tenant.use(upstreamConnectRoutes(s)); // connect/{upstream}, upstream-oauth/{callback,client-metadata.json}
  tenant.use(oauthTenantRoutes(s));
  tenant.use(ssoRoutes(s)); // login, logout, saml/*, oidc/*
  tenant.use(gtrRoutes(s)); // POST global-token-revocation (Okta Universal Logout)
  tenant.use(consoleRoutes(s)); // admin, admin/* (the tenant admin console)
  // The tenant JSON API (api/me, later the admin console's API): bodies parsed with the default limits.
  const api = Router({ mergeParams: true });
  api.use(jsonBody());
  tenant.use('/api', api);
  api.use('/connected-apps', connectedAppsRoutes(s));
  api.use(meRoutes(s));
  api.use('/admin/audit', auditAdminRoutes(s));
  api.use('/admin', adminApiRoutes(s));

  root.use('/t/:slug', resolveTenant(s.tenants), tenant);
  return root;
}
