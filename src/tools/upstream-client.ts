import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { isEgressRefusal, type Egress } from '../http/egress.js';
import { AppError } from '../lib/errors.js';
import { upstreamFetch } from './upstream-fetch.js';

export const gatewayClientInfo = { name: 'sso-bridge-gateway', version: '0.1.0' };

/** Time allowed to connect to an upstream and list its tools (admin commands). */
export const LIST_TIMEOUT_MS = 15_000;

/**
 * Opens an MCP session to an upstream over Streamable HTTP with the admin-configured headers only. The end user's
 * access token is never among them: the gateway is a separate client of the upstream (MCP security best practices,
 * "token passthrough" is forbidden).
 */
export async function connectUpstream(url: string, headers: Record<string, string>, egress: Egress, timeoutMs = LIST_TIMEOUT_MS): Promise<Client> {
  // Declared so upstreams send elicitation and sampling requests at all: the gateway relays those that arrive on a
  // call's own stream to that call's client, which must have declared the capability too (src/mcp/call-relay.ts);
  // any other such request reaches this client, which has no handler for it and answers -32601.
  const client = new Client(gatewayClientInfo, { capabilities: { elicitation: { form: {}, url: {} }, sampling: {} } });
  // Redirects are refused: an upstream that moves must be re-registered by an admin.
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers, redirect: 'error' }, fetch: upstreamFetch(egress) });
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (err) {
    await client.close().catch(() => undefined);
    if (isEgressRefusal(err)) {
      throw new AppError(422, 'upstream_address_refused', `The upstream MCP server at ${url} is on a private, loopback, link-local or other special-use address, which this deployment does not reach (OUTBOUND_ALLOWED_NETWORKS)`);
    }
    // Per-user upstreams (src/upstream-auth): a refused token is renewed, not reported as an unreachable server.
    if (err instanceof StreamableHTTPError && err.code === 401) throw new AppError(422, 'upstream_unauthorized', `The upstream MCP server at ${url} refused the credentials`);
    // 422, not 5xx: the admin's URL or headers do not work, and the CLI shows the message as is.
    throw new AppError(422, 'upstream_unreachable', `Could not connect to the upstream MCP server at ${url}`, String(err));
  }
  return client;
}

/** Every tool of an upstream (follows pagination, bounded so a hostile upstream cannot loop us forever). */
export async function listUpstreamTools(client: Client, timeoutMs = LIST_TIMEOUT_MS): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const res = await client.listTools(cursor ? { cursor } : {}, { timeout: timeoutMs });
    tools.push(...res.tools);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

/** Connect, list, close: what `upstream add` and `upstream refresh` need. */
export async function fetchUpstreamTools(url: string, headers: Record<string, string>, egress: Egress): Promise<McpTool[]> {
  const client = await connectUpstream(url, headers, egress);
  try {
    return await listUpstreamTools(client);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(422, 'upstream_error', `The upstream MCP server at ${url} did not list its tools`, String(err));
  } finally {
    await client.close().catch(() => undefined);
  }
}
