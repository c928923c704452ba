import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { z } from 'zod';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  ErrorCode,
  McpError,
  ListToolsRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type ListToolsResult,
  type RequestId,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { callTool } from '../tools/call-tool.js';
import { callableToolsCache, type ToolSet } from '../tools/callable-tools-cache.js';
import type { CallableTool } from '../tools/list-callable-tools.js';
import type { CallRelay } from '../tools/upstream-call.js';
import { connectorTool } from '../connectors/tool-providers.js';
import { GatewayServer } from './gateway-server.js';
import { callKey, type InFlightCalls } from './in-flight-calls.js';
import { McpSessionIds } from './mcp-session-id.js';
import { contentCapabilities, registerContentHandlers } from './content-handlers.js';

export interface McpPrincipal {
  userId: string;
  clientId: string;
  sessionId?: string;
  request: { ip?: string; userAgent?: string; requestId?: string };
}

export const serverInfo = { name: 'sso-bridge', version: '0.1.0' };

const TOOLS_CALL_METHOD = z.looseObject({ method: z.literal('tools/call') });

function toMcpTool(tool: CallableTool): Tool {
  // Connector tools are our own code: their whole definition comes from it (the row may predate this version), so
  // what clients see is what arguments are validated against, and structuredContent matches the output schema.
  const code = tool.kind === 'connector' ? connectorTool(tool.name) : null;
  const { title, ...annotations } = (code?.annotations ?? tool.annotations) as { title?: unknown } & Record<string, unknown>;
  const declared = code?.inputSchema ?? tool.inputSchema;
  const inputSchema = declared.type === 'object' ? declared : { type: 'object', properties: {} };
  const description = code?.description ?? tool.description;
  return {
    name: tool.name,
    ...(typeof title === 'string' && { title }),
    ...(description !== null && { description }),
    inputSchema: inputSchema as Tool['inputSchema'],
    ...(code && { outputSchema: code.outputSchema as Tool['outputSchema'] }),
    ...(Object.keys(annotations).length > 0 && { annotations: annotations as Tool['annotations'] }),
  };
}

/** tools/list for this principal (the SDK server's answer; the fast path sends the same, serialised: listToolsJson). */
export async function listToolsResult(s: Services, t: TenantCtx, who: McpPrincipal): Promise<ListToolsResult> {
  return { tools: (await callableToolsCache(s).toolSet(t, who.userId)).list.map(toMcpTool) };
}

/** Serialised tools/list results by tool set, UTF-8 encoded: made once for every user who may call the same tools. */
const listJson = new WeakMap<ToolSet, Buffer>();

/**
 * `JSON.stringify(await listToolsResult(…))` as UTF-8 bytes, shared by every user with the same tool set
 * (callable-tools-cache.ts): with 200 tools, building, serialising and encoding the ~100 kB answer per request was
 * most of a tools/list's CPU (encoding alone twice: to measure, then to write).
 */
export async function listToolsJson(s: Services, t: TenantCtx, who: McpPrincipal): Promise<Buffer> {
  return listJsonOf(await callableToolsCache(s).toolSet(t, who.userId));
}

/** The serialised tools/list result of a tool set, made once (also ahead, for the sets in use: CallableToolsCache.deriveAhead). */
export function listJsonOf(set: ToolSet): Buffer {
  let json = listJson.get(set);
  if (json === undefined) {
    json = Buffer.from(JSON.stringify({ tools: set.list.map(toMcpTool) } satisfies ListToolsResult));
    listJson.set(set, json);
  }
  return json;
}

/** tools/call for this principal, cancellable by the transport's signal or a later notifications/cancelled. */
export async function callToolResult(
  s: Services,
  t: TenantCtx,
  who: McpPrincipal,
  inFlight: InFlightCalls,
  requestId: RequestId,
  signal: AbortSignal,
  params: CallToolRequest['params'],
  relay?: CallRelay,
): Promise<CallToolResult> {
  const call = inFlight.track(callKey(t, who, who.sessionId, requestId), signal);
  try {
    const urlElicitation = who.sessionId !== undefined && McpSessionIds.capabilitiesOf(who.sessionId).elicitationUrl;
    const ctx = {
      userId: who.userId,
      clientId: who.clientId,
      signal: call.signal,
      request: who.request,
      urlElicitation,
      ...(who.sessionId !== undefined && { sessionId: who.sessionId }),
      ...(relay && { relay }),
    };
    return await callTool(s, t, ctx, params.name, params.arguments);
  } catch (err) {
    if (err instanceof McpError) throw err;
    // Both transports render a thrown error's message to the client: an unexpected one becomes a generic error with
    // the trace id (the request id), its details only in the log.
    const traceId = who.request.requestId ?? '';
    s.logger.error({ err, traceId, tenantId: t.id }, 'tools/call failed');
    throw new McpError(ErrorCode.InternalError, 'Internal error', { traceId });
  } finally {
    call.done();
  }
}

/**
 * One JSON-schema validator for every per-request server: the SDK otherwise builds a fresh Ajv instance (and its
 * meta-schemas) for each Server, which was the largest CPU cost of a tools/call. It keeps no per-request state.
 */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * A fresh MCP server for one HTTP request (the SDK's stateless pattern): it knows the tenant and the principal the
 * bearer token proved, so every tools/list and tools/call is decided for that user, from current data.
 */
export function buildMcpServer(s: Services, t: TenantCtx, who: McpPrincipal, inFlight: InFlightCalls): Server {
  const server = new GatewayServer(serverInfo, {
    capabilities: { tools: { listChanged: true }, ...contentCapabilities },
    jsonSchemaValidator,
    instructions: `Tools of ${t.name}, approved by its administrators for you. Call whoami to see who you are signed in as.`,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => listToolsResult(s, t, who));
  // Registered with a schema that only names the method: the SDK's Protocol parses a handler's schema before the
  // Server's own tools/call wrapper runs, so invalid params would be a -32603 there; the wrapper's check answers them
  // with -32602 Invalid params (JSON-RPC 2.0 §5.1), and only requests it accepted reach the handler.
  server.setRequestHandler(TOOLS_CALL_METHOD, (req, extra) => callToolResult(s, t, who, inFlight, extra.requestId, extra.signal, (req as CallToolRequest).params));
  registerContentHandlers(server, s, t, who);
  return server;
}
