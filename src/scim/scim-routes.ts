import { Router, type Request } from 'express';
import { jsonBody } from '../http/body.js';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Services } from '../services.js';
import { resourceTypeById, resourceTypes, schemaById, schemas, serviceProviderConfig } from './discovery.js';
import { groupRoutes } from './group-routes.js';
import { scimAuth, scimVerifiers } from './scim-auth.js';
import { scimCtx } from './scim-context.js';
import { requireBody } from './scim-operations.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { ScimError } from './scim-error.js';
import { scimErrorHandler, sendScim } from './scim-response.js';
import { userRoutes } from './user-routes.js';

/** Big enough for one PATCH adding 10,000 members with display names; larger bodies get 413. */
export const SCIM_BODY_LIMIT = '4mb';

/** The request body as JSON; a write without a JSON body (wrong media type, empty) is invalid syntax. */
export function bodyOf(req: Request): unknown {
  return requireBody(req.body);
}

/** The resource a SCIM path (below /scim/v2) names, for the operation counter: Users, Groups, or discovery. */
export const scimResourceOf = (path: string) => /^\/(Users|Groups)\b/.exec(path)?.[1] ?? 'discovery';

/**
 * One source of truth per tenant: when directory sync provisions users, SCIM may read but not write. Reads are
 * GET/HEAD, and POST …/.search (RFC 7644 §3.4.3, a query carried in a body); `path` is below /scim/v2.
 */
export function refuseDirectorySyncWrite(t: TenantCtx, method: string | undefined, path: string): void {
  const read = method === 'GET' || method === 'HEAD' || (method === 'POST' && /\/\.search$/.test(path));
  if (read || t.settings.provisioning !== 'directory-sync') return;
  throw new ScimError(409, "This tenant's users and groups come from directory sync (tenant settings: provisioning); SCIM writes are refused");
}

/** PUBLIC_URL/t/{slug}/scim/v2 — RFC 7644 endpoints for one tenant. Unknown query parameters are ignored. */
export function scimRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  // SCIM operations by tenant, resource, method and result — counted before authentication so 401s show too.
  r.use((req, res, next) => {
    const resource = scimResourceOf(req.path);
    res.once('finish', () => s.metrics.scim(tenantOf(res).slug, resource, req.method, res.statusCode));
    next();
  });
  r.use(scimAuth(scimVerifiers(s)));
  r.use(jsonBody(SCIM_BODY_LIMIT));
  r.use((req, res, next) => {
    refuseDirectorySyncWrite(tenantOf(res), req.method, req.path);
    next();
  });

  r.get('/ServiceProviderConfig', (req, res) => sendScim(res, 200, serviceProviderConfig(scimCtx(s, req, res).baseUrl)));
  r.get('/ResourceTypes', (req, res) => sendScim(res, 200, resourceTypes(scimCtx(s, req, res).baseUrl)));
  r.get('/ResourceTypes/:id', (req, res) => sendScim(res, 200, resourceTypeById(scimCtx(s, req, res).baseUrl, req.params.id)));
  r.get('/Schemas', (req, res) => sendScim(res, 200, schemas(scimCtx(s, req, res).baseUrl)));
  r.get('/Schemas/:id', (req, res) => sendScim(res, 200, schemaById(scimCtx(s, req, res).baseUrl, req.params.id)));

  r.use('/Users', userRoutes(s));
  r.use('/Groups', groupRoutes(s));

  // RFC 7644 §3.11 /Me needs a user-bound credential; SCIM tokens belong to the IdP, not to a user.
  r.all('/Me', () => {
    throw new ScimError(501, '/Me is not supported');
  });
  r.all('/Bulk', () => {
    throw new ScimError(501, 'Bulk operations are not supported');
  });
  r.use(() => {
    throw new ScimError(404, 'No such SCIM endpoint');
  });
  r.use(scimErrorHandler);
  return r;
}
