import type { Command, OptionSpec, OptionValue } from '../cli/command-table.js';
import { audited, optionList, tenantArg, tenantOption, viaAction } from '../cli/command-table.js';
import { acceptToolChangeAction, rejectToolChangeAction } from '../admin/actions/tool-actions.js';
import { approveContent, revokeContent } from './approve-content.js';
import { approveTool, listTools, revokeTool } from './approve-tools.js';
import { addUpstream, listUpstreams, refreshUpstream, removeUpstream } from './manage-upstreams.js';
import { parseHeaderArgs } from './upstream-headers.js';
import { findUserByLogin, upstreamAuthInput, upstreamAuthOptions } from '../upstream-auth/connection-commands.js';

const tenant = tenantOption;
const upstreamName: OptionSpec = { type: 'string', required: true, description: 'upstream name (tools are named NAME__tool)' };
const toolName: OptionSpec = { type: 'string', required: true, description: 'tool name as clients see it (see: tool list)' };
const groups: OptionSpec = { type: 'string', multiple: true, description: 'group id, or a display name naming exactly one group (repeatable); none = everyone' };

const idpGroups: OptionSpec = {
  type: 'string',
  multiple: true,
  description: 'IdP group id (Okta: 00g… or okta:00g…, see: connector groups; Google Workspace: google:ID), granted before anyone from it arrived (repeatable)',
};

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
      ...upstreamAuthOptions,
      prefix: { type: 'string', description: "prefix of the names clients see (PREFIX__tool); default the upstream's name; \"\" = none (refused if a name collides)" },
    },
    forwardable: true,
    run: audited('upstream.add', 'upstream', (s, t, o) =>
      addUpstream(s, t, { name: str(o.name), url: str(o.url), headers: parseHeaderArgs(list(o.header)), ...upstreamAuthInput(o), ...(typeof o.prefix === 'string' && { prefix: o.prefix }) }),
    ),
  },
  {
    name: 'upstream approve-content',
    summary: "expose an upstream's prompts and resources (as one set) to everyone, or only to the given groups",
    options: { tenant, name: upstreamName, group: groups },
    forwardable: true,
    run: audited('upstream.content.approve', 'upstream', (s, t, o) => approveContent(s, t, str(o.name), list(o.group))),
  },
  {
    name: 'upstream revoke-content',
    summary: "stop exposing an upstream's prompts and resources, entirely or only to the given groups",
    options: { tenant, name: upstreamName, group: groups },
    forwardable: true,
    run: audited('upstream.content.revoke', 'upstream', (s, t, o) => revokeContent(s, t, str(o.name), list(o.group))),
  },
  {
    name: 'upstream refresh',
    summary: "re-list an upstream's tools (new ones unapproved, removed ones deleted, changed approved ones held until re-approved)",
    options: { tenant, name: upstreamName, user: { type: 'string', description: 'per-user upstreams: list with this user\'s token (e-mail or userName; id-jag: a user who signed in with the IdP)' } },
    forwardable: true,
    run: audited('upstream.refresh', 'upstream', async (s, t, o) => refreshUpstream(s, t, str(o.name), o.user ? (await findUserByLogin(t, str(o.user))).id : undefined)),
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
    summary: 'approve a tool for everyone, or only for the given groups (membership is checked on every call); also accepts the change of a held tool',
    options: { tenant, tool: toolName, group: groups, 'idp-group': idpGroups },
    forwardable: true,
    run: audited('tool.approve', 'tool', (s, t, o) => approveTool(s, t, str(o.tool), list(o.group), list(o['idp-group']))),
  },
  {
    name: 'tool revoke',
    summary: 'revoke a tool entirely, or only the given groups',
    options: { tenant, tool: toolName, group: groups, 'idp-group': idpGroups },
    forwardable: true,
    run: audited('tool.revoke', 'tool', (s, t, o) => revokeTool(s, t, str(o.tool), list(o.group), list(o['idp-group']))),
  },
  {
    name: 'tool accept-change',
    summary: "accept a held tool's change (its upstream changed it after approval); the tool keeps the access it had",
    options: { tenant, tool: toolName },
    forwardable: true,
    run: viaAction(acceptToolChangeAction, (o) => ({ tool: str(o.tool) })),
  },
  {
    name: 'tool reject-change',
    summary: "refuse a held tool's change: the tool is revoked (nobody can call it) until approved again",
    options: { tenant, tool: toolName },
    forwardable: true,
    run: viaAction(rejectToolChangeAction, (o) => ({ tool: str(o.tool) })),
  },
  {
    name: 'tool list',
    summary: "list a tenant's tools with who may call them (held tools with a diff of what their upstream changed)",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ tools: await listTools(await tenantArg(s, o)) }),
  },
];
