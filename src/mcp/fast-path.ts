import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ErrorCode,
  JSONRPCRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type CallToolRequest,
  type JSONRPCRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { callToolResult, listToolsJson, type McpPrincipal } from './build-mcp-server.js';
import { ClientRelay } from './call-relay.js';
import { NO_CAPABILITIES } from './client-capabilities.js';
import { callKey, type InFlightCalls } from './in-flight-calls.js';
import { McpSessionIds } from './mcp-session-id.js';
import { plainTextResult, plainToolCall } from './plain-shapes.js';
import type { PendingClientRequests } from './pending-client-requests.js';
import type { LogLevels } from './log-levels.js';

/**
 * The request, validated by the SDK's own schemas, if it is one the fast path answers exactly as the SDK's
 * transport and server would: a POST of ONE JSON-RPC request, `tools/list` or `tools/call` (no task augmentation),
 * whose params the method's schema accepts (the caller has checked that the transport accepts its headers:
 * postHeadersAccepted). Anything else — initialize, batches,
 * notifications, responses, GET/DELETE, a header or params the SDK would refuse — returns null and goes through the
 * SDK, which renders its own error.
 */
type FastRequest = { request: JSONRPCRequest; call?: CallToolRequest['params']; invalidParams?: string };

function fastRequest(req: IncomingMessage, body: unknown): FastRequest | null {
  if (req.method !== 'POST' || !body || typeof body !== 'object' || Array.isArray(body)) return null;
  const method = (body as { method?: unknown }).method;
  if (method !== 'tools/call' && method !== 'tools/list') return null;
  // The plainest tools/call, recognised without the schemas (plain-shapes.ts: only where their output is the input).
  if (method === 'tools/call') {
    const plain = plainToolCall(body);
    if (plain) return plain;
  }
  // What the transport's JSONRPCMessageSchema union accepts as a request is exactly what its request member accepts
  // (the union tries that member first); parsing with it alone spares the union and isJSONRPCRequest's second pass.
  const message = JSONRPCRequestSchema.safeParse(body);
  if (!message.success) return null;
  const request = message.data;
  if (method === 'tools/list') return ListToolsRequestSchema.safeParse(request).success ? { request } : null;
  // Invalid params: -32602 Invalid params (JSON-RPC 2.0 §5.1) with the text the SDK server's tools/call check gives
  // (server/index.js), which is what the SDK path answers too (build-mcp-server.ts registers the method only).
  const call = CallToolRequestSchema.safeParse(request);
  if (!call.success) return { request, invalidParams: `Invalid tools/call request: ${call.error.message}` };
  return call.data.params.task === undefined ? { request, call: call.data.params } : null;
}

/**
 * Answers a plain `tools/call` or `tools/list` POST without building an SDK server and transport per request (their
 * construction, the web-standard Request/Response adaptation and the protocol bookkeeping were most of the gateway's
 * own CPU per call). The response is what the SDK sends in stateless JSON-response mode: `{result, jsonrpc, id}` or
 * `{jsonrpc, id, error}` with status 200 and `Content-Type: application/json`; tools/call results pass the SDK
 * server's CallToolResult validation. The caller has already checked Origin, bearer token and session id, exactly as
 * for the SDK path, and that the transport accepts the POST's headers (transport-checks.ts). Returns false (having written nothing) when the request is not one it handles.
 */
export async function tryFastPath(
  s: Services,
  t: TenantCtx,
  who: McpPrincipal,
  inFlight: InFlightCalls,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  pending: PendingClientRequests,
  logLevels?: LogLevels,
): Promise<boolean> {
  const fast = fastRequest(req, body);
  if (!fast) return false;
  const { request } = fast;
  // Like the SDK transport's close on a dropped connection: the handler's signal aborts and nothing is sent.
  const aborted = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborted.abort();
  });
  // What the upstream sends the caller during the call (progress, logs, elicitation, sampling) goes through this.
  const relay = fast.call
    ? new ClientRelay(
        res,
        fast.call._meta?.progressToken,
        () => (who.sessionId ? McpSessionIds.capabilitiesOf(who.sessionId) : NO_CAPABILITIES),
        pending,
        (id) => callKey(t, who, who.sessionId, id),
        aborted.signal,
        logLevels && ((level) => logLevels.passes(t.id, who.sessionId, level)),
      )
    : undefined;
  let response: Record<string, unknown>;
  /** tools/list's result, already serialised (shared by every user with the same tools, build-mcp-server.ts). */
  let listed: Buffer | undefined;
  try {
    if (fast.invalidParams !== undefined) throw new McpError(ErrorCode.InvalidParams, fast.invalidParams);
    if (fast.call) response = { result: await validatedCall(s, t, who, inFlight, request, fast.call, aborted.signal, relay), jsonrpc: '2.0', id: request.id };
    else {
      listed = await listToolsJson(s, t, who);
      response = { result: null, jsonrpc: '2.0', id: request.id };
    }
  } catch (error) {
    // The SDK's Protocol renders handler errors this way (shared/protocol.js, _onrequest); an unexpected error's own
    // message stays in the log (callToolResult logs a call's), the client gets a generic one with the trace id.
    const e: { code?: unknown; message?: unknown; data?: unknown } =
      error instanceof McpError ? error : new McpError(ErrorCode.InternalError, 'Internal error', { traceId: who.request.requestId ?? '' });
    response = {
      jsonrpc: '2.0',
      id: request.id,
      error: {
        code: Number.isSafeInteger(e.code) ? e.code : ErrorCode.InternalError,
        message: e.message ?? 'Internal error',
        ...(e.data !== undefined && { data: e.data }),
      },
    };
  }
  if (aborted.signal.aborted) return true;
  if (relay?.end(response)) return true;
  // Exactly the SDK transport's Content-Type (no "; charset=utf-8").
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  // With a serialised result: the same bytes as JSON.stringify({ result, jsonrpc, id }), written as three chunks in one
  // tick — node corks the socket for the tick, so headers and the three go out in one writev — rather than copied
  // into one buffer first (Buffer.concat of a 201-tool answer, ~100 kB, was 5 % of the gateway's CPU in a list flood).
  if (listed === undefined) res.end(JSON.stringify(response));
  else {
    const tail = `,"jsonrpc":"2.0","id":${JSON.stringify(request.id)}}`;
    res.setHeader('Content-Length', RESULT_OPEN.length + listed.length + Buffer.byteLength(tail));
    res.write(RESULT_OPEN);
    res.write(listed);
    res.end(tail);
  }
  return true;
}

const RESULT_OPEN = Buffer.from('{"result":');

/** tools/call with the SDK server's own result validation (server/index.js wraps tools/call handlers the same way). */
async function validatedCall(
  s: Services,
  t: TenantCtx,
  who: McpPrincipal,
  inFlight: InFlightCalls,
  request: JSONRPCRequest,
  params: CallToolRequest['params'],
  signal: AbortSignal,
  relay: ClientRelay | undefined,
) {
  const result = await callToolResult(s, t, who, inFlight, request.id, signal, params, relay);
  const plain = plainTextResult(result);
  if (plain) return plain;
  const checked = CallToolResultSchema.safeParse(result);
  if (!checked.success) throw new McpError(ErrorCode.InvalidParams, `Invalid tools/call result: ${checked.error.message}`);
  return checked.data;
}
