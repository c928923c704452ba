import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hashToken, safeEqual } from '../lib/secrets.js';
import type { Services } from '../services.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Prometheus metrics on their own listener (METRICS_PORT, METRICS_HOST): never on the public port, so the load
 * balancer does not expose them. With METRICS_TOKEN set, scrapes must send `Authorization: Bearer <token>`
 * (compared in constant time). Only `GET /metrics` is served.
 */
export async function startMetricsServer(s: Services, port: number, host = s.config.metricsHost): Promise<MetricsServer> {
  const expected = s.config.metricsToken ? hashToken(s.config.metricsToken) : undefined;
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      if (expected) {
        const auth = req.headers.authorization ?? '';
        const presented = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        if (!safeEqual(hashToken(presented), expected)) {
          res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"' }).end();
          return;
        }
      }
      try {
        const body = await s.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': s.metrics.registry.contentType }).end(body);
      } catch (err) {
        s.logger.error({ err }, 'could not collect metrics');
        res.writeHead(500).end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
