import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { hotStatementName } from '../../src/db/hot-sql.js';

export interface SentStatement {
  text: string;
  /** The hot statement's declared name (hot-sql.ts), or undefined for any other SQL (Prisma's). */
  hot: string | undefined;
  /** PostgreSQL: sent as a named prepared statement. PGlite: always false. */
  prepared: boolean;
}

/** The bus's heartbeat and notifications: not part of any request. */
const BACKGROUND = /sso_bridge_bus_heartbeat|pg_notify/;

/**
 * Records every statement this process sends to the database, on both drivers — pg's Client (pooled connections
 * included) and PGlite — so a test can count round trips deterministically instead of timing them. Stop the app's
 * jobs first (`services.jobs.stop()`): their timers would add statements of their own.
 */
export function recordStatements(): { sent: SentStatement[]; clear(): void; stop(): void } {
  const sent: SentStatement[] = [];
  const record = (text: string, prepared: boolean) => {
    if (!BACKGROUND.test(text)) sent.push({ text, hot: hotStatementName(text), prepared });
  };
  const pgQuery = pg.Client.prototype.query;
  const liteQuery = PGlite.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    if (typeof config === 'string') record(config, false);
    else if (config && typeof config === 'object' && 'text' in config) record(String(config.text), 'name' in config && Boolean(config.name));
    return (pgQuery as (...a: unknown[]) => unknown).call(this, config, ...rest);
  } as typeof pgQuery;
  PGlite.prototype.query = function (this: PGlite, text: string, ...rest: unknown[]) {
    record(text, false);
    return (liteQuery as (...a: unknown[]) => unknown).call(this, text, ...rest);
  } as typeof liteQuery;
  return {
    sent,
    clear: () => void sent.splice(0),
    stop() {
      pg.Client.prototype.query = pgQuery;
      PGlite.prototype.query = liteQuery;
    },
  };
}
