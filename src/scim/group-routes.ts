import { Router } from 'express';
import type { Services } from '../services.js';
import { wantsMembers } from './group-resource.js';
import { createGroup, deleteGroup, loadGroup, renderGroupById, replaceGroup } from './group-store.js';
import { listResources, searchQuery } from './list-resources.js';
import { patchGroup } from './patch-group.js';
import { projectResource, projectionOf } from './project-attributes.js';
import { groupKind } from './resource-kinds.js';
import { scimCtx } from './scim-context.js';
import { sendScim } from './scim-response.js';
import { bodyOf } from './scim-routes.js';

export function groupRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.get('/', async (req, res) => {
    sendScim(res, 200, await listResources(scimCtx(s, req, res), groupKind, req.query));
  });
  r.post('/.search', async (req, res) => {
    sendScim(res, 200, await listResources(scimCtx(s, req, res), groupKind, searchQuery(bodyOf(req))));
  });
  r.post('/', async (req, res) => {
    const c = scimCtx(s, req, res);
    const group = await createGroup(c, bodyOf(req));
    res.setHeader('Location', `${c.baseUrl}/Groups/${String(group.id)}`);
    sendScim(res, 201, projectResource(groupKind, group, projectionOf(req.query)));
  });
  r.get('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const p = projectionOf(req.query);
    const group = await renderGroupById(c, await loadGroup(c, req.params.id), wantsMembers(p));
    sendScim(res, 200, projectResource(groupKind, group, p));
  });
  r.put('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const group = await replaceGroup(c, req.params.id, bodyOf(req), req.get('if-match'));
    sendScim(res, 200, projectResource(groupKind, group, projectionOf(req.query)));
  });
  // Group PATCH answers 204 (RFC 7644 §3.5.2 allows it; Entra prefers it, Okta accepts it): no member list echo.
  r.patch('/:id', async (req, res) => {
    await patchGroup(scimCtx(s, req, res), req.params.id, bodyOf(req), req.get('if-match'));
    sendScim(res, 204);
  });
  r.delete('/:id', async (req, res) => {
    await deleteGroup(scimCtx(s, req, res), req.params.id, req.get('if-match'));
    sendScim(res, 204);
  });
  return r;
}
