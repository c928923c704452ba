import { Router } from 'express';
import type { Services } from '../services.js';
import { listResources, searchQuery } from './list-resources.js';
import { patchUser } from './patch-user.js';
import { projectResource, projectionOf } from './project-attributes.js';
import { userKind } from './resource-kinds.js';
import { scimCtx } from './scim-context.js';
import { sendScim } from './scim-response.js';
import { bodyOf } from './scim-routes.js';
import { renderUser } from './user-resource.js';
import { createUser, deleteUser, loadUserWithGroups, replaceUser } from './user-store.js';

/** Thin adapters: HTTP in, framework-free functions, SCIM JSON out (RFC 7644 §3.3–§3.6). */
export function userRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.get('/', async (req, res) => {
    const c = scimCtx(s, req, res);
    sendScim(res, 200, await listResources(c, userKind, req.query));
  });
  r.post('/.search', async (req, res) => {
    sendScim(res, 200, await listResources(scimCtx(s, req, res), userKind, searchQuery(bodyOf(req))));
  });
  r.post('/', async (req, res) => {
    const c = scimCtx(s, req, res);
    const user = await createUser(c, bodyOf(req));
    res.setHeader('Location', `${c.baseUrl}/Users/${String(user.id)}`);
    sendScim(res, 201, projectResource(userKind, user, projectionOf(req.query)));
  });
  r.get('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const { row, groups } = await loadUserWithGroups(c, req.params.id);
    const user = renderUser(c, row, groups);
    sendScim(res, 200, projectResource(userKind, user, projectionOf(req.query)));
  });
  r.put('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const user = await replaceUser(c, req.params.id, bodyOf(req), req.get('if-match'));
    sendScim(res, 200, projectResource(userKind, user, projectionOf(req.query)));
  });
  r.patch('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const user = await patchUser(c, req.params.id, bodyOf(req), req.get('if-match'));
    sendScim(res, 200, projectResource(userKind, user, projectionOf(req.query)));
  });
  r.delete('/:id', async (req, res) => {
    await deleteUser(scimCtx(s, req, res), req.params.id, req.get('if-match'));
    sendScim(res, 204);
  });
  return r;
}
