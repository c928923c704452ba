import type { RequestListener } from 'node:http';
import express, { type Express, type Request } from 'express';
import type { Services } from '../services.js';
import { mcpEndpoint, mcpSlugOf } from '../mcp/mcp-endpoint.js';
import { scimEndpoint } from '../scim/scim-endpoint.js';
import { clientIp, TRUST_PROXY } from './client-ip.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { routeFamily } from '../metrics/metrics.js';
import { traceRequest, tracingOn } from '../metrics/tracing.js';
import { buildRoutes } from './routes.js';
import { requestLog } from './request-log.js';

/**
 * The server's request listener: the tenant's MCP endpoint `/t/{slug}/mcp` (nearly every request of a busy
 * deployment) on plain node:http (mcp-endpoint.ts: Express's routing and helpers cost measurable CPU per tool call),
 * likewise SCIM's provisioning requests (GET/POST/PATCH on Users and Groups: scim-endpoint.ts, which hands every
 * other SCIM request to Express), everything else to the Express application.
 */
export function createApp(s: Services): RequestListener {
  const app = createExpressApp(s);
  const mcp = mcpEndpoint(s);
  const scim = scimEndpoint(s);
  const metrics = s.metrics;
  return (req, res) => {
    const url = req.url ?? '/';
    const slug = mcpSlugOf(url);
    // Request rate and latency by route family (src/metrics): one listener and one histogram observe per request.
    // `on`, not `once`: a response emits 'finish' at most once, and once's wrapper and removal cost on every request.
    const started = performance.now();
    const family = slug === undefined ? routeFamily(url) : 'mcp';
    res.on('finish', () => metrics.http(family, res.statusCode, (performance.now() - started) / 1000));
    const handle = family === 'scim' ? () => scim(req, res, () => app(req, res)) : () => app(req, res);
    if (slug !== undefined) mcp(req, res, slug);
    else if (tracingOn && (family === 'scim' || family === 'oauth' || family === 'sso')) traceRequest(family, req.method, res, handle);
    else handle();
  };
}

/**
 * `req.ip` is clientIp (client-ip.ts): the same address under the same TRUST_PROXY, computed once per request and
 * shared with the node:http paths. Express's own getter runs proxy-addr (parse X-Forwarded-For, test each hop against
 * the trusted ranges) on every read, and a token request reads it two to four times (failure-limit check, request log
 * line; on a failure the failure count, on a reuse its audit event) — proxy-addr was the application's largest
 * self-time function in one profile of the token endpoint (issue 17 §5).
 */
function memoizeRequestIp(app: Express): void {
  Object.defineProperty(app.request, 'ip', {
    configurable: true,
    enumerable: true,
    get(this: Request) {
      return clientIp(this);
    },
  });
}

/**
 * The Express application: request ids and logs, the route table (routes.ts, which also sets the security headers:
 * security-headers.ts), then the error handlers.
 */
function createExpressApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a load balancer PUBLIC_URL is what clients see; req.ip comes from the first proxy hop only.
  app.set('trust proxy', TRUST_PROXY);
  memoizeRequestIp(app);
  app.use(requestLog(s.logger, { ignore: (url) => url === '/healthz' }));
  app.use(buildRoutes(s));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
