import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { AccessTokenInfo, AccessTokenVerifier } from '../oauth/access-token.js';
import { clientIp } from '../http/client-ip.js';
import { classifyBodyError } from '../http/error-handler.js';
import { requestLogger } from '../http/request-log.js';
import { setApiSecurityHeaders } from '../http/security-headers.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { callableToolsCache } from '../tools/callable-tools-cache.js';
import { bearerTokenOf, checkBearer } from './bearer-auth.js';
import { coldRead, type ColdRead } from './cold-read.js';
import { buildMcpServer, listJsonOf, type McpPrincipal } from './build-mcp-server.js';
import { originCheck } from './check-origin.js';
import { mcpResourceUrl, protectedResourceMetadataUrl } from './mcp-resource.js';
import { McpSessionIds } from './mcp-session-id.js';
import { callKey, cancelledRequestIds, InFlightCalls } from './in-flight-calls.js';
import { watchStream } from './watch-stream.js';
import { tryFastPath } from './fast-path.js';
import { readJsonBody } from './read-json-body.js';
import { batchRefusal, postHeadersAccepted } from './transport-checks.js';
import { relayCapabilitiesOf } from './client-capabilities.js';
import { LogLevels } from './log-levels.js';
import { PendingElicitations } from './pending-elicitations.js';
import { MAX_BUS_MESSAGE, PendingClientRequests, relayedResponses } from './pending-client-requests.js';

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export interface McpEndpointOptions {
  /** Access-token verifier; defaults to the tenant authorization server's (`s.accessTokens`), read per request. */
  verifier?: AccessTokenVerifier;
}

/** Handles one request to `/t/{slug}/mcp`; `slug` is still percent-encoded, as mcpSlugOf returns it. */
export type McpEndpoint = (req: IncomingMessage, res: ServerResponse, slug: string) => void;

// What Express matched for router.all('/') mounted at '/t/:slug/mcp' (case-insensitive, any trailing slashes,
// any query); '/t/x/mcp/extra' and '/t/x/mcpfoo' are not the endpoint.
const MCP_PATH = /^\/t\/([^/?]+)\/mcp\/*(?:\?|$)/i;

/** The tenant slug (percent-encoded) when `url` addresses the MCP endpoint, else undefined. */
export function mcpSlugOf(url: string): string | undefined {
  return MCP_PATH.exec(url)?.[1];
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

const rpcError = (res: ServerResponse, status: number, code: number, message: string, data?: Record<string, unknown>) =>
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message, ...(data && { data }) }, id: null });

/**
 * `/t/{slug}/mcp`: the tenant's MCP endpoint (Streamable HTTP, MCP 2025-11-25), served on plain node:http in front
 * of Express (app.ts), because Express's routing and response helpers were a measurable part of the CPU per tool call.
 * It does what the Express stack did for it: request id and log line, API security headers, the tenant (unknown or
 * disabled: the same 404 as everywhere), then Origin and bearer token before anything else, on every request. The SDK
 * transport runs in stateless mode with a fresh server per request, so any node can serve any request; the optional
 * session id is bound to (tenant, user, client) by an HMAC (mcp-session-id.ts). The client's token never leaves this
 * process.
 */
export function mcpEndpoint(s: Services, opts: McpEndpointOptions = {}): McpEndpoint {
  const sessions = new McpSessionIds(s);
  const inFlight = new InFlightCalls();
  const pending = new PendingClientRequests();
  const logLevels = new LogLevels(s.bus);
  const elicitations = new PendingElicitations(s.bus, () => s.clock.now().getTime());
  // After tools.changed / tenant.changed, the tools/list answers of the tool sets in use are made again ahead (decision 0057).
  callableToolsCache(s).deriveAhead = listJsonOf;
  s.bus.subscribe((e) => {
    if (e.type === 'mcp.cancelled') inFlight.cancel(e.callKey);
    else if (e.type === 'mcp.response') pending.deliver(e.key, parseJson(e.message));
  });
  const begin = requestLogger(s.logger, { ipOf: clientIp });
  const originAllowed = originCheck(s.config.publicUrl);
  // Read per request, so tests (and a future verifier swap) can replace `s.accessTokens` on a running app.
  const verifier = () => opts.verifier ?? s.accessTokens;

  async function handle(req: IncomingMessage, res: ServerResponse, slug: string) {
    // Taken from the header once: the cold read and the bearer check both use it.
    const token = bearerTokenOf(req.headers.authorization);
    // The tenant and, for a token this node has not verified yet, its grant and tools in the same statement (cold-read.ts).
    const cold = await findTenant(s, slug, token, verifier());
    const { t } = cold;
    if (!t) {
      // As resolve-tenant.ts and the error handler answer: unknown, malformed and disabled slugs look the same.
      req.log?.info({ status: 404, error: 'not_found' }, 'client error');
      sendJson(res, 404, { error: 'not_found', message: 'Not found' });
      return;
    }
    if (!originAllowed(req.headers.origin)) {
      rpcError(res, 403, -32000, 'Forbidden: Origin not allowed');
      return;
    }
    const auth = await checkBearer(req, t, verifier(), {
      resource: mcpResourceUrl(s.config.publicUrl, t),
      resourceMetadataUrl: protectedResourceMetadataUrl(s.config.publicUrl, t),
      clock: s.clock,
      token,
      // Read ahead (cold-read.ts), the grant is the verifier's to use or ignore; otherwise a token not yet cached costs a
      // live-state read (grant, user), and the user's tools are loaded meanwhile rather than after it (issue 17 §2).
      // Loading them for a token refused afterwards is harmless: the query answers no tool for an inactive user, and the
      // entry obeys the bus.
      hooks: {
        prefetched: cold.prefetched,
        onSignedSubject: (userId) => {
          if (cold.prefetched?.subject !== userId) void callableToolsCache(s).list(t, userId).catch(() => {});
        },
      },
    });
    if (!auth.ok) {
      res.setHeader('WWW-Authenticate', auth.challenge);
      sendJson(res, auth.status, auth.body);
      return;
    }
    // Only now, for the subject the verified token names, are the tools read ahead installed.
    if (cold.tools?.subject === auth.info.userId) callableToolsCache(s).prime(t, auth.info.userId, cold.tools);
    await serve(s, t, { sessions, inFlight, pending, logLevels, elicitations }, auth.info, req, res);
  }

  return (req, res, slug) => {
    begin(req, res);
    setApiSecurityHeaders(res);
    handle(req, res, slug).catch((err: unknown) => {
      const body = classifyBodyError(err);
      if (body) {
        // A body that was never read (a charset or encoding we do not decode) is not a parse error: the SDK's own 415 shape.
        if (body.reason === 'unsupported') rpcError(res, 415, -32000, 'Unsupported Media Type: the charset or Content-Encoding is not supported');
        else rpcError(res, body.status, -32700, body.reason === 'too_large' ? 'Request body too large' : 'Parse error: invalid JSON');
        return;
      }
      // Details only in the log; the client gets the trace id (the request id), never a stack trace.
      const traceId = String(req.id ?? '');
      req.log?.error({ err, traceId }, 'MCP request failed');
      if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error', { traceId });
      else res.end();
    });
  };
}

async function findTenant(s: Services, slug: string, token: string | undefined, verifier: AccessTokenVerifier | undefined): Promise<ColdRead> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(slug);
  } catch {
    return { t: null }; // malformed percent-encoding names no tenant
  }
  return coldRead(s, decoded, token, verifier);
}

async function serve(
  s: Services,
  t: TenantCtx,
  {
    sessions,
    inFlight,
    pending,
    logLevels,
    elicitations,
  }: { sessions: McpSessionIds; inFlight: InFlightCalls; pending: PendingClientRequests; logLevels: LogLevels; elicitations: PendingElicitations },
  info: AccessTokenInfo & { userId: string },
  req: IncomingMessage,
  res: ServerResponse,
) {
  const who: McpPrincipal = {
    userId: info.userId,
    clientId: info.clientId,
    request: { ip: clientIp(req), userAgent: req.headers['user-agent'], requestId: String(req.id ?? '') },
  };
  const sessionId = req.headers['mcp-session-id'];
  if (sessionId !== undefined && (typeof sessionId !== 'string' || !(sessions.proved(t, who, sessionId) || (await sessions.matches(t, who, sessionId))))) {
    // Unknown, forged, or created by another user or client: indistinguishable (MCP transports: 404).
    rpcError(res, 404, -32001, 'Session not found');
    return;
  }
  if (typeof sessionId === 'string') who.sessionId = sessionId;
  const body = req.method === 'POST' ? await readJsonBody(req, res) : undefined;
  const batch = req.method === 'POST' ? batchRefusal(req, body) : null;
  if (batch) {
    rpcError(res, 400, -32600, batch);
    return;
  }
  const initialize = req.method === 'POST' && isInitializeRequest(body);
  // What a POST carries is acted on only when the transport will accept the POST (below): a refused initialize gets no
  // session id, a refused cancellation or relayed answer changes nothing (transport-checks.ts).
  const accepted = req.method === 'POST' && postHeadersAccepted(req, initialize);
  if (accepted && initialize && sessionId === undefined) {
    res.setHeader('Mcp-Session-Id', await sessions.issue(t, who, relayCapabilitiesOf(body.params)));
  }
  for (const id of accepted ? cancelledRequestIds(body) : []) {
    const key = callKey(t, who, who.sessionId, id);
    if (!inFlight.cancel(key)) await s.bus.publish({ type: 'mcp.cancelled', tenantId: t.id, callKey: key });
  }
  // Answers to relayed elicitation / sampling requests: to the call waiting for them, here or on another node.
  for (const { id, message } of accepted ? relayedResponses(body) : []) {
    const key = callKey(t, who, who.sessionId, id);
    if (pending.deliver(key, message)) continue;
    const text = JSON.stringify(message);
    if (text.length <= MAX_BUS_MESSAGE) await s.bus.publish({ type: 'mcp.response', tenantId: t.id, key, message: text });
    else req.log?.warn({ bytes: text.length }, 'relayed answer too large to reach another node');
  }
  // A POST the transport refuses goes to the SDK, which renders its refusal.
  if (accepted && (await tryFastPath(s, t, who, inFlight, req, res, body, pending, logLevels))) return;
  const server = buildMcpServer(s, t, who, inFlight);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    // Ends in-flight handlers too: their abort signal cancels upstream calls (notifications/cancelled upstream).
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  if (req.method === 'GET') watchStream(s, t, info, who.sessionId, server, transport, res, elicitations);
  await transport.handleRequest(req, res, body);
}
