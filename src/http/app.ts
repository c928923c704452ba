import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { redactQuery, redactUrl } from '../lib/logger.js';
import type { Services } from '../services.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { buildRoutes } from './routes.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The Express application: cross-cutting middleware, the route table (routes.ts), then the error handlers. */
export function createApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a load balancer PUBLIC_URL is what clients see; req.ip comes from the first proxy hop only.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(
    pinoHttp({
      logger: s.logger,
      // req.log lines carry only the request id (reqId), not the whole request again.
      quietReqLogger: true,
      // OAuth codes, SAML messages and tokens sometimes travel in the query string: never log their values.
      serializers: {
        req: (req: { url?: string; query?: unknown }) => ({ ...req, url: redactUrl(req.url ?? ''), query: redactQuery(req.query) }),
      },
      // Accept a caller's request id when it is sane (so traces join up across hops), else make one.
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/healthz' },
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { 'frame-ancestors': ["'none'"], 'form-action': ["'self'", 'https:', 'http:'] },
      },
      xFrameOptions: { action: 'deny' },
      // Pages post to IdPs and redirect to MCP clients; the default same-origin referrer policy is fine.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    }),
  );
  app.use(buildRoutes(s));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
