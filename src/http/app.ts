import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Services } from '../services.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { buildRoutes } from './routes.js';
import { requestLog } from './request-log.js';

/** The Express application: cross-cutting middleware, the route table (routes.ts), then the error handlers. */
export function createApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a load balancer PUBLIC_URL is what clients see; req.ip comes from the first proxy hop only.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(requestLog(app, s.logger, { ignore: (url) => url === '/healthz' }));
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
