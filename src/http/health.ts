import { Router } from 'express';
import type { Services } from '../services.js';

export function healthRoutes(s: Services): Router {
  const r = Router();
  // Liveness: the process answers. Never touches the database, so a slow database does not get us restarted.
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness: the database answers within a bound.
  r.get('/readyz', async (_req, res) => {
    try {
      await withTimeout(s.database.ping(), 2000);
      res.json({ status: 'ok', database: s.database.kind });
    } catch (err) {
      res.req.log?.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', database: s.database.kind });
    }
  });
  return r;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
