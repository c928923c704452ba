import { Router, type Request, type Response } from 'express';
import type { Services } from '../services.js';
import { searchQuery, listResources } from './list-resources.js';
import { projectResource, projectionOf } from './project-attributes.js';
import { userKind } from './resource-kinds.js';
import { scimCtx } from './scim-context.js';
import { userOperations, type ScimCall } from './scim-operations.js';
import { answerScim, sendScim, versionOf } from './scim-response.js';
import { bodyOf } from './scim-routes.js';
import { deleteUser, replaceUser } from './user-store.js';

/** An Express request as a framework-free SCIM call (scim-operations.ts). */
export function scimCall(s: Services, req: Request, res: Response): ScimCall {
  return { c: scimCtx(s, req, res), id: String(req.params.id ?? ''), query: req.query, body: req.body, ifMatch: req.get('if-match') };
}

/**
 * Thin adapters: HTTP in, framework-free functions, SCIM JSON out (RFC 7644 §3.3–§3.6). GET, POST and PATCH are also
 * served in front of Express by scim-endpoint.ts, through the same operations.
 */
export function userRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.get('/', async (req, res) => answerScim(res, await userOperations.list(scimCall(s, req, res))));
  r.post('/.search', async (req, res) => {
    sendScim(res, 200, await listResources(scimCtx(s, req, res), userKind, searchQuery(bodyOf(req))));
  });
  r.post('/', async (req, res) => answerScim(res, await userOperations.create(scimCall(s, req, res))));
  r.get('/:id', async (req, res) => answerScim(res, await userOperations.get(scimCall(s, req, res))));
  r.put('/:id', async (req, res) => {
    const c = scimCtx(s, req, res);
    const user = await replaceUser(c, req.params.id, bodyOf(req), req.get('if-match'));
    sendScim(res, 200, projectResource(userKind, user, projectionOf(req.query)), versionOf(user));
  });
  r.patch('/:id', async (req, res) => answerScim(res, await userOperations.patch(scimCall(s, req, res))));
  r.delete('/:id', async (req, res) => {
    await deleteUser(scimCtx(s, req, res), req.params.id, req.get('if-match'));
    sendScim(res, 204);
  });
  return r;
}
