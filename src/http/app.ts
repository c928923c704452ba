import express, { type Express } from 'express';
import type { Services } from '../services.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { buildRoutes } from './routes.js';
import { requestLog } from './request-log.js';

/**
 * The Express application: request ids and logs, the route table (routes.ts, which also sets the security headers:
 * security-headers.ts), then the error handlers.
 */
export function createApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a load balancer PUBLIC_URL is what clients see; req.ip comes from the first proxy hop only.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(requestLog(app, s.logger, { ignore: (url) => url === '/healthz' }));
  app.use(buildRoutes(s));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
