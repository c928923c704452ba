import { z } from 'zod';
import { approveTool, revokeTool } from '../../tools/approve-tools.js';
import { addUpstream, refreshUpstream } from '../../tools/manage-upstreams.js';
import { parseHeaderArgs } from '../../tools/upstream-headers.js';
import { defineAction } from './admin-action.js';

const toolName = z.string().trim().min(1, 'tool: required').max(200);
/** Group ids or unambiguous display names (src/tenants/find-groups.ts); none = everyone. */
const groups = z.array(z.string().trim().min(1).max(300)).max(100).default([]);

export const approveToolAction = defineAction({
  name: 'tool.approve',
  targetKind: 'tool',
  sensitive: false,
  input: z.object({ tool: toolName, groups }),
  run: (s, t, i) => approveTool(s, t, i.tool, i.groups),
  detail: (i, r) => ({ tool: r.name, access: r.access, groups: i.groups }),
});

export const revokeToolAction = defineAction({
  name: 'tool.revoke',
  targetKind: 'tool',
  sensitive: false,
  input: z.object({ tool: toolName, groups }),
  run: (s, t, i) => revokeTool(s, t, i.tool, i.groups),
  detail: (i, r) => ({ tool: r.name, access: r.access, groups: i.groups }),
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
