import { ConfigError, loadConfig } from './config/config.js';
import { DatabaseLockedError } from './db/pglite-lock.js';
import { startServer } from './http/start-server.js';
import { createServices } from './services.js';
import { boundHeapGrowth } from './http/heap-growth.js';

/** `npm start` / `sso-bridge serve`: configuration, database (migrated), HTTP server, graceful shutdown. */
export async function serve(): Promise<void> {
  boundHeapGrowth();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const started = Date.now();
  let services;
  try {
    services = await createServices(config);
  } catch (err) {
    if (err instanceof DatabaseLockedError || (err as Error).name === 'MasterKeyError') {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { logger } = services;
  const server = await startServer(services);
  logger.info(
    { port: server.port, publicUrl: config.publicUrl, database: services.database.kind, startupMs: Date.now() - started },
    'sso-bridge listening',
  );
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    deadline.unref();
    server.close(9_000).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

// Run when executed directly (dist/server.js, tsx src/server.ts), not when imported by the CLI.
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.match(/server\.(js|ts)$/)) {
  serve().catch((err: unknown) => {
    process.stderr.write(`sso-bridge failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
