import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAdminEndpoint } from '../admin/admin-endpoint.js';
import type { Services } from '../services.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { startTracing } from '../metrics/tracing.js';
import { createApp } from './app.js';
import { recordServedUrl } from './served-url.js';
import { upstreamListChanges } from '../tools/upstream-list-changes.js';
import { upgradeConnectorTools } from '../connectors/upgrade-connector-tools.js';

export interface RunningServer {
  url: string;
  port: number;
  /** The Prometheus listener's base URL when METRICS_PORT is set (src/metrics/metrics-server.ts). */
  metricsUrl?: string;
  /**
   * Graceful stop: no new connections, in-flight requests finish (forced after `graceMs`), pending audit events are
   * written, then the database closes.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(s: Services, opts: { port?: number; host?: string; adminEndpoint?: boolean } = {}): Promise<RunningServer> {
  // Cheap when up to date (no schema engine is loaded); on PostgreSQL serialized across nodes by an advisory lock.
  const applied = await s.database.migrate();
  if (applied.length) s.logger.info({ applied }, 'applied database migrations');
  await recordServedUrl(s.db, s.config.publicUrl);
  // Connector tools as this version defines them (a tool added by an upgrade becomes approvable at once).
  const upgraded = await upgradeConnectorTools(s);
  if (upgraded.changed) s.logger.info(upgraded, 'connector tools updated to this version');
  const app = createApp(s);
  const server = http.createServer(app);
  // Keep-alive longer than typical load-balancer idle timeouts so they close first (avoids 502 races).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? s.config.port, opts.host, () => resolve());
  });
  await s.bus.start();
  s.jobs.start();
  const admin = (opts.adminEndpoint ?? s.database.kind === 'pglite') ? await startAdminEndpoint(s) : undefined;
  const metrics = s.config.metricsPort === undefined ? undefined : await startMetricsServer(s, s.config.metricsPort);
  const tracing = await startTracing(s.config.otelEndpoint, s.logger);
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    ...(metrics && { metricsUrl: metrics.url }),
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), Math.max(0, graceMs - 1000));
        await closed;
        clearTimeout(force);
        await admin?.close();
        await metrics?.close();
        await tracing?.shutdown();
        await s.jobs.stop();
        // Upstream list changes being handled finish while the database is open; later retries are dropped.
        upstreamListChanges(s).stop();
        await upstreamListChanges(s).idle();
        await s.bus.stop();
        // Background audit events (tool calls) linger before they are written: write them while the database is open.
        await s.audit.flush();
        await s.database.close();
      })();
      return closing;
    },
  };
}
