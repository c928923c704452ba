import { z } from 'zod';
import { acceptToolChange, approveTool, rejectToolChange, revokeTool } from '../../tools/approve-tools.js';
import { addUpstream, refreshUpstream } from '../../tools/manage-upstreams.js';
import { parseHeaderArgs } from '../../tools/upstream-headers.js';
import { IDP_GROUP_REF } from '../../tools/idp-group-grants.js';
import { defineAction } from './admin-action.js';

const toolName = z.string().trim().min(1, 'tool: required').max(200);
/** Group ids or unambiguous display names (src/tenants/find-groups.ts); none = everyone. */
const groups = z.array(z.string().trim().min(1).max(300)).max(100).default([]);
/** IdP directory groups by the IdP's id (`okta:ID`, `google:ID`, or a bare Okta `00g…`), looked up through the tenant's directory connector. */
const idpGroups = z.array(z.string().trim().regex(IDP_GROUP_REF, 'idpGroups: IdP group ids (okta:ID, google:ID)')).max(100).default([]);

export const approveToolAction = defineAction({
  name: 'tool.approve',
  targetKind: 'tool',
  sensitive: false,
  input: z.object({ tool: toolName, groups, idpGroups }),
  run: (s, t, i) => approveTool(s, t, i.tool, i.groups, i.idpGroups),
  detail: (i, r) => ({ tool: r.name, access: r.access, groups: i.groups, ...(i.idpGroups.length > 0 && { idpGroups: i.idpGroups }) }),
});

export const revokeToolAction = defineAction({
  name: 'tool.revoke',
  targetKind: 'tool',
  sensitive: false,
  input: z.object({ tool: toolName, groups, idpGroups }),
  run: (s, t, i) => revokeTool(s, t, i.tool, i.groups, i.idpGroups),
  detail: (i, r) => ({ tool: r.name, access: r.access, groups: i.groups, ...(i.idpGroups.length > 0 && { idpGroups: i.idpGroups }) }),
});

/** A held tool's change (docs/tools.md, tool-poisoning guard): accepted with the access it had. */
export const acceptToolChangeAction = defineAction({
  name: 'tool.change.accept',
  targetKind: 'tool',
  sensitive: false,
  input: z.object({ tool: toolName }),
  run: (s, t, i) => acceptToolChange(s, t, i.tool),
  detail: (_i, r) => ({ tool: r.name, access: r.access }),
});

/** A held tool's change refused: the tool is revoked and stays so until approved again. */
export const rejectToolChangeAction = defineAction({
  name: 'tool.change.reject',
  targetKind: 'tool',
  sensitive: false,
  input: z.object({ tool: toolName }),
  run: (s, t, i) => rejectToolChange(s, t, i.tool),
  detail: (_i, r) => ({ tool: r.name }),
});

const upstreamName = z.string().trim().min(1, 'name: required').max(64);

/** `upstream add`: headers are credentials (kept in the vault), so the console asks for a fresh sign-in. */
export const addUpstreamAction = defineAction({
  name: 'upstream.add',
  targetKind: 'upstream',
  sensitive: true,
  input: z.object({ name: upstreamName, url: z.string().trim().min(1, 'url: required').max(2048), headers: z.array(z.string().max(8192)).max(50).default([]) }),
  run: (s, t, i) => addUpstream(s, t, { name: i.name, url: i.url, headers: parseHeaderArgs(i.headers) }),
  detail: (i, r) => ({ name: i.name, url: i.url, tools: r.tools.length, headers: i.headers.length }),
});

export const refreshUpstreamAction = defineAction({
  name: 'upstream.refresh',
  targetKind: 'upstream',
  sensitive: false,
  input: z.object({ name: upstreamName }),
  run: (s, t, i) => refreshUpstream(s, t, i.name),
  detail: (i) => ({ name: i.name }),
});
