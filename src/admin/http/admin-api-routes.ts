import { Router, type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { listConnections } from '../../sso/connections/manage-connections.js';
import { userAccess, toolAccess } from '../queries/access-matrix.js';
import { tenantCertificates } from '../queries/certificates.js';
import { groupSources, pickableGroups } from '../queries/group-picker.js';
import { consoleOverview } from '../queries/overview.js';
import { listGroups, listUsers, provisioningStatus } from '../queries/provisioning.js';
import { spValues } from '../queries/sp-values.js';
import { toolCatalog } from '../queries/tool-catalog.js';
import { MappingInput } from '../actions/idp-actions.js';
import { connectionTest, previewMapping } from '../queries/sso-test.js';
import { auditRefusal, authTimeOf, REAUTH_WINDOW_MS, stateChangeAllowed } from './admin-session.js';
import { ActionRefused, performAction } from './perform-action.js';
import { adminOf, requireAdminApi } from './require-admin.js';

const q = (v: unknown) => (typeof v === 'string' ? v : '');
const Name = z.string().regex(/^[a-z-]{1,40}$/);

/**
 * `/t/{slug}/api/admin/…`: the console's JSON API, for scripts and the console's own enhancements. Reads are GETs;
 * every state change is `POST actions/{name}` with a JSON body and the `X-CSRF-Token` header (from `GET session`),
 * running the same action code as the console's forms and the CLI (src/admin/actions).
 */
export function adminApiRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.use(requireAdminApi(s));

  r.get('/session', (_req, res) => {
    const admin = adminOf(res);
    const authTime = authTimeOf(admin.session);
    res.json({
      user: { id: admin.session.userId, name: admin.name },
      csrfToken: admin.csrf,
      authTime: authTime?.toISOString() ?? null,
      freshUntil: authTime ? new Date(authTime.getTime() + REAUTH_WINDOW_MS).toISOString() : null,
    });
  });
  r.get('/overview', async (_req, res) => void res.json(await consoleOverview(s, tenantOf(res))));
  r.get('/provisioning', async (_req, res) => void res.json(await provisioningStatus(s, tenantOf(res))));
  r.get('/users', async (req, res) => void res.json({ users: await listUsers(tenantOf(res), q(req.query.search)) }));
  r.get('/groups', async (req, res) => void res.json({ groups: await listGroups(tenantOf(res), q(req.query.search)) }));
  r.get('/group-picker', async (req, res) => void res.json(await pickableGroups(tenantOf(res), q(req.query.q), 200, groupSources(s))));
  r.get('/tools', async (_req, res) => void res.json(await toolCatalog(tenantOf(res))));
  r.get('/access/users/:id', async (req, res) => void res.json(await userAccess(tenantOf(res), String(req.params.id), s.clock.now())));
  r.get('/access/tools/:name', async (req, res) => void res.json(await toolAccess(tenantOf(res), String(req.params.name))));
  r.get('/settings', (_req, res) => void res.json({ settings: tenantOf(res).settings }));
  r.get('/sso', async (_req, res) => {
    const t = tenantOf(res);
    res.json({ sp: spValues(s, t), connections: await listConnections(t), certificates: await tenantCertificates(s, t) });
  });

  // "Test sign-in": the last test of this admin session (claims as received, mapped profile, outcome) and the mapping
  // preview over it. The preview changes nothing but is a POST with the CSRF token like every console request body.
  r.get('/sso/test-result', async (req, res) => {
    const v = await connectionTest(s, tenantOf(res), adminOf(res).session.id, q(req.query.connection), q(req.query.trace) || undefined);
    if (!v) return void res.status(404).json({ error: 'not_found', message: 'No such connection' });
    res.json(v);
  });
  r.post('/sso/mapping-preview', async (req, res) => {
    const t = tenantOf(res);
    if (!stateChangeAllowed(s, t, req)) {
      await auditRefusal(s, t, req, res, 'admin.request.refused', 'csrf: mapping-preview', adminOf(res).session.userId);
      return void res.status(403).json({ error: 'csrf', message: 'Missing or wrong CSRF token' });
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const mapping = MappingInput.safeParse(body.mapping ?? {});
    if (!mapping.success) return void res.status(400).json({ error: 'invalid_mapping', message: mapping.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    const v = await connectionTest(s, t, adminOf(res).session.id, q(body.connection));
    if (!v) return void res.status(404).json({ error: 'not_found', message: 'No such connection' });
    if (!v.result) return void res.status(409).json({ error: 'no_test_result', message: 'Run a test sign-in first' });
    res.json({ fields: previewMapping(v.result, mapping.data) });
  });

  r.post('/actions/:name', async (req, res) => {
    const t = tenantOf(res);
    const name = Name.safeParse(req.params.name);
    const result = await performAction(s, t, req, res, adminOf(res), name.success ? name.data : '', req.body ?? {}, `/t/${t.slug}/admin`);
    res.json(result);
  });

  const refusals: ErrorRequestHandler = (err, _req, res, next) => {
    if (err instanceof ActionRefused) return void res.status(err.status).json({ error: err.code, message: err.message, ...(err.reauthUrl && { reauthUrl: err.reauthUrl }) });
    next(err);
  };
  r.use(refusals);
  return r;
}
