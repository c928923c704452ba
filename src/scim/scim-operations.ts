import { wantsMembers } from './group-resource.js';
import { createGroup, loadGroup, renderGroupById } from './group-store.js';
import { listResources } from './list-resources.js';
import { patchGroup } from './patch-group.js';
import { patchUser } from './patch-user.js';
import { projectResource, projectionOf } from './project-attributes.js';
import { groupKind, userKind } from './resource-kinds.js';
import type { ScimCtx } from './scim-context.js';
import { scimBadRequest } from './scim-error.js';
import { versionOf, type ScimAnswer } from './scim-response.js';
import { renderUser } from './user-resource.js';
import { createUser, loadUserWithGroups } from './user-store.js';

/**
 * One request to a SCIM operation, without its framework: the Express route adapters (user-routes.ts,
 * group-routes.ts) and the node:http hot path (scim-endpoint.ts) both build it and call the same operation, so the
 * two paths cannot answer differently.
 */
export interface ScimCall {
  c: ScimCtx;
  /** The path's resource id (percent-decoded), '' for the collection. */
  id: string;
  /** The query string parsed as Express 5 parses it (node:querystring). */
  query: Record<string, unknown>;
  /** The parsed JSON body, undefined when there was none or its media type was not JSON. */
  body: unknown;
  ifMatch: string | undefined;
}

export type ScimOperation = (k: ScimCall) => Promise<ScimAnswer>;

/** The request body as JSON; a write without a JSON body (wrong media type, empty) is invalid syntax. */
export function requireBody(body: unknown): unknown {
  if (body === undefined) {
    throw scimBadRequest('invalidSyntax', 'Expected a JSON body (application/scim+json or application/json)');
  }
  return body;
}

/** GET/POST/PATCH on Users and Groups (RFC 7644 §3.3–§3.5): the requests an IdP's provisioning cycle sends. */
export const userOperations = {
  list: async ({ c, query }) => ({ status: 200, body: await listResources(c, userKind, query) }),
  create: async ({ c, query, body }) => {
    const user = await createUser(c, requireBody(body));
    return { status: 201, location: `${c.baseUrl}/Users/${String(user.id)}`, body: projectResource(userKind, user, projectionOf(query)), etag: versionOf(user) };
  },
  get: async ({ c, id, query }) => {
    const { row, groups } = await loadUserWithGroups(c, id);
    const user = renderUser(c, row, groups);
    return { status: 200, body: projectResource(userKind, user, projectionOf(query)), etag: versionOf(user) };
  },
  patch: async ({ c, id, query, body, ifMatch }) => {
    const user = await patchUser(c, id, requireBody(body), ifMatch);
    return { status: 200, body: projectResource(userKind, user, projectionOf(query)), etag: versionOf(user) };
  },
} satisfies Record<string, ScimOperation>;

export const groupOperations = {
  list: async ({ c, query }) => ({ status: 200, body: await listResources(c, groupKind, query) }),
  create: async ({ c, query, body }) => {
    const group = await createGroup(c, requireBody(body));
    return { status: 201, location: `${c.baseUrl}/Groups/${String(group.id)}`, body: projectResource(groupKind, group, projectionOf(query)), etag: versionOf(group) };
  },
  get: async ({ c, id, query }) => {
    const p = projectionOf(query);
    const group = await renderGroupById(c, await loadGroup(c, id), wantsMembers(p));
    return { status: 200, body: projectResource(groupKind, group, p), etag: versionOf(group) };
  },
  // Group PATCH answers 204 (RFC 7644 §3.5.2 allows it; Entra prefers it, Okta accepts it): no member list echo.
  patch: async ({ c, id, body, ifMatch }) => {
    await patchGroup(c, id, requireBody(body), ifMatch);
    return { status: 204 };
  },
} satisfies Record<string, ScimOperation>;
