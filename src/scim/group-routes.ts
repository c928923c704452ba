import { Router } from 'express';
import type { Services } from '../services.js';
import { deleteGroup, replaceGroup } from './group-store.js';
import { listResources, searchQuery } from './list-resources.js';
import { projectResource, projectionOf } from './project-attributes.js';
import { groupKind } from './resource-kinds.js';
import { scimCtx } from './scim-context.js';
import { groupOperations } from './scim-operations.js';
import { answerScim, sendScim, versionOf } from './scim-response.js';
import { bodyOf } from './scim-routes.js';
import { scimCall } from './user-routes.js';

/** Thin adapters (see user-routes.ts); GET, POST and PATCH are also served in front of Express by scim-endpoint.ts. */
export function groupRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.get('/', async (req, res) => answerScim(res, await groupOperations.list(scimCall(s, req, res))));
  r.post('/.search', async (req, res) => {
    sendScim(res, 200, await listResources(scimCtx(s, req, res), groupKind, searchQuery(bodyOf(req))));
  });
  r.post('/', async (req, res) => answerScim(res, await groupOperations.create(scimCall(s, req, res))));
  r.get('/:id', async (req, res) => answerScim(res, await groupOperations.get(scimCall(s, req, res))));
  r.put('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const group = await replaceGroup(c, req.params.id, bodyOf(req), req.get('if-match'));
    sendScim(res, 200, projectResource(groupKind, group, projectionOf(req.query)), versionOf(group));
  });
  r.patch('/:id', async (req, res) => answerScim(res, await groupOperations.patch(scimCall(s, req, res))));
  r.delete('/:id', async (req, res) => {
    await deleteGroup(scimCtx(s, req, res), req.params.id, req.get('if-match'));
    sendScim(res, 204);
  });
  return r;
}
