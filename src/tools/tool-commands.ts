import type { Command, OptionSpec, OptionValue } from '../cli/command-table.js';
import { audited, optionList, tenantArg, tenantOption, viaAction } from '../cli/command-table.js';
import { addUpstreamAction, approveToolAction, refreshUpstreamAction, revokeToolAction } from '../admin/actions/tool-actions.js';
import { listTools } from './approve-tools.js';
import { listUpstreams, removeUpstream } from './manage-upstreams.js';

const tenant = tenantOption;
const upstreamName: OptionSpec = { type: 'string', required: true, description: 'upstream name (tools are named NAME__tool)' };
const toolName: OptionSpec = { type: 'string', required: true, description: 'tool name as clients see it (see: tool list)' };
const groups: OptionSpec = { type: 'string', multiple: true, description: 'group id, or a display name naming exactly one group (repeatable); none = everyone' };

const str = (v: OptionValue) => (typeof v === 'string' ? v : '');
const list = optionList;


/** `upstream …` and `tool …` admin commands (docs/tools.md). */
export const toolCommands: Command[] = [
  {
    name: 'upstream add',
    summary: 'connect an upstream MCP server (Streamable HTTP), list its tools and store them unapproved',
    options: {
      tenant,
      name: upstreamName,
      url: { type: 'string', required: true, description: 'the upstream MCP endpoint URL' },
      header: { type: 'string', multiple: true, secret: true, description: '"Name: value" sent to the upstream (kept in the vault); repeatable, or one per line in --header-file' },
    },
    forwardable: true,
    run: viaAction(addUpstreamAction, (o) => ({ name: str(o.name), url: str(o.url), headers: list(o.header) })),
  },
  {
    name: 'upstream refresh',
    summary: "re-list an upstream's tools (new ones unapproved, removed ones deleted)",
    options: { tenant, name: upstreamName },
    forwardable: true,
    run: viaAction(refreshUpstreamAction, (o) => ({ name: str(o.name) })),
  },
  {
    name: 'upstream list',
    summary: "list a tenant's upstream MCP servers (headers are never shown)",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ upstreams: await listUpstreams(await tenantArg(s, o)) }),
  },
  {
    name: 'upstream remove',
    summary: 'remove an upstream with its tools, grants and stored headers',
    options: { tenant, name: upstreamName },
    forwardable: true,
    run: audited('upstream.remove', 'upstream', (s, t, o) => removeUpstream(s, t, str(o.name))),
  },
  {
    name: 'tool approve',
    summary: 'approve a tool for everyone, or only for the given groups (membership is checked on every call)',
    options: { tenant, tool: toolName, group: groups },
    forwardable: true,
    run: viaAction(approveToolAction, (o) => ({ tool: str(o.tool), groups: list(o.group) })),
  },
  {
    name: 'tool revoke',
    summary: 'revoke a tool entirely, or only the given groups',
    options: { tenant, tool: toolName, group: groups },
    forwardable: true,
    run: viaAction(revokeToolAction, (o) => ({ tool: str(o.tool), groups: list(o.group) })),
  },
  {
    name: 'tool list',
    summary: "list a tenant's tools with who may call them",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ tools: await listTools(await tenantArg(s, o)) }),
  },
];
