import { Router, type Request, type Response } from 'express';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { AccessTokenInfo, AccessTokenVerifier } from '../oauth/access-token.js';
import { classifyBodyError } from '../http/error-handler.js';
import { tenantOf } from '../http/resolve-tenant.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { checkBearer } from './bearer-auth.js';
import { buildMcpServer, type McpPrincipal } from './build-mcp-server.js';
import { checkOrigin } from './check-origin.js';
import { mcpResourceUrl, protectedResourceMetadataUrl } from './mcp-resource.js';
import { McpSessionIds } from './mcp-session-id.js';
import { callKey, cancelledRequestIds, InFlightCalls } from './in-flight-calls.js';
import { watchStream } from './watch-stream.js';
import { tryFastPath } from './fast-path.js';
import { readJsonBody } from './read-json-body.js';

export interface McpRouteOptions {
  /** Access-token verifier; defaults to the tenant authorization server's (`s.accessTokens`), read per request. */
  verifier?: AccessTokenVerifier;
}

const rpcError = (res: Response, status: number, code: number, message: string, data?: Record<string, unknown>) =>
  res.status(status).json({ jsonrpc: '2.0', error: { code, message, ...(data && { data }) }, id: null });

/**
 * `/t/{slug}/mcp`: the tenant's MCP endpoint (Streamable HTTP, MCP 2025-11-25). Every request — POST, GET, DELETE —
 * is checked for Origin and bearer token before anything else. The SDK transport runs in stateless mode with a fresh
 * server per request, so any node can serve any request; the optional session id is bound to (tenant, user, client)
 * by an HMAC (mcp-session-id.ts). The client's token never leaves this process.
 */
export function mcpRoutes(s: Services, opts: McpRouteOptions = {}): Router {
  const router = Router({ mergeParams: true });
  const sessions = new McpSessionIds(s);
  const inFlight = new InFlightCalls();
  s.bus.subscribe((e) => {
    if (e.type === 'mcp.cancelled') inFlight.cancel(e.callKey);
  });
  // Read per request, so tests (and a future verifier swap) can replace `s.accessTokens` on a running app.
  const verifier = () => opts.verifier ?? s.accessTokens;

  router.use(checkOrigin(s.config.publicUrl));
  router.all('/', async (req, res) => {
    const t = tenantOf(res);
    try {
      const auth = await checkBearer(req, t, verifier(), {
        resource: mcpResourceUrl(s.config.publicUrl, t),
        resourceMetadataUrl: protectedResourceMetadataUrl(s.config.publicUrl, t),
        clock: s.clock,
      });
      if (!auth.ok) {
        res.status(auth.status).set('WWW-Authenticate', auth.challenge).json(auth.body);
        return;
      }
      await serve(s, t, { sessions, inFlight }, auth.info, req, res);
    } catch (err) {
      const body = classifyBodyError(err);
      if (body) {
        rpcError(res, body.status, -32700, body.reason === 'too_large' ? 'Request body too large' : 'Parse error: invalid JSON');
        return;
      }
      const traceId = String(req.id ?? '');
      req.log?.error({ err, traceId }, 'MCP request failed');
      if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error', { traceId });
      else res.end();
    }
  });
  return router;
}

async function serve(
  s: Services,
  t: TenantCtx,
  { sessions, inFlight }: { sessions: McpSessionIds; inFlight: InFlightCalls },
  info: AccessTokenInfo & { userId: string },
  req: Request,
  res: Response,
) {
  const who: McpPrincipal = {
    userId: info.userId,
    clientId: info.clientId,
    request: { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') },
  };
  const sessionId = req.headers['mcp-session-id'];
  if (sessionId !== undefined && (typeof sessionId !== 'string' || !(await sessions.matches(t, who, sessionId)))) {
    // Unknown, forged, or created by another user or client: indistinguishable (MCP transports: 404).
    rpcError(res, 404, -32001, 'Session not found');
    return;
  }
  if (typeof sessionId === 'string') who.sessionId = sessionId;
  const body = req.method === 'POST' ? await readJsonBody(req, res) : undefined;
  if (req.method === 'POST' && sessionId === undefined && isInitializeRequest(body)) {
    res.setHeader('Mcp-Session-Id', await sessions.issue(t, who));
  }
  for (const id of cancelledRequestIds(body)) {
    const key = callKey(t, who, who.sessionId, id);
    if (!inFlight.cancel(key)) await s.bus.publish({ type: 'mcp.cancelled', tenantId: t.id, callKey: key });
  }
  if (await tryFastPath(s, t, who, inFlight, req, res, body)) return;
  const server = buildMcpServer(s, t, who, inFlight);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    // Ends in-flight handlers too: their abort signal cancels upstream calls (notifications/cancelled upstream).
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  if (req.method === 'GET') watchStream(s, t, info, server, transport, res);
  await transport.handleRequest(req, res, body);
}
