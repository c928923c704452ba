import { Router } from 'express';
import type { Services } from '../services.js';

export function healthRoutes(s: Services): Router {
  const r = Router();
  // Liveness: the process answers. Never touches the database, so a slow database does not get us restarted.
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness: the database answers within a bound, and the event bus is listening — a node that cannot hear
  // revocations from other nodes should not take traffic (its caches are bounded meanwhile: docs/operations.md).
  r.get('/readyz', async (_req, res) => {
    const bus = s.bus.state;
    let database = true;
    try {
      await withTimeout(s.database.ping(), 2000);
    } catch (err) {
      database = false;
      res.req.log?.warn({ err }, 'readiness check failed: database');
    }
    const ready = database && bus === 'listening';
    if (database && !ready) res.req.log?.warn({ bus }, 'readiness check failed: event bus not listening');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', database: s.database.kind, bus });
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
