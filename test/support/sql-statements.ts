import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { hotStatementName } from '../../src/db/hot-sql.js';

export interface SentStatement {
  text: string;
  /** The hot statement's declared name (hot-sql.ts), or undefined for any other SQL (Prisma's). */
  hot: string | undefined;
  /** PostgreSQL: sent as a named prepared statement. PGlite: always false. */
  prepared: boolean;
  /**
   * Which sequential round trip this statement is, counted since the last clear: 1 if no recorded statement had
   * answered when it was sent, else one more than the latest round among those that had (statements sent together,
   * before any of them answered, share a round).
   */
  round: number;
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
  /** Rounds of the recorded statements that have answered (cleared with `sent`). */
  const answered: number[] = [];
  let epoch = 0;
  /** Records a statement being sent; the returned function marks it answered. */
  const record = (text: string, prepared: boolean): (() => void) => {
    if (BACKGROUND.test(text)) return () => {};
    const round = 1 + Math.max(0, ...answered);
    sent.push({ text, hot: hotStatementName(text), prepared, round });
    const mine = epoch;
    return () => {
      if (mine === epoch) answered.push(round);
    };
  };
  /** Calls `query`, marking the statement answered when its callback runs or its promise settles. */
  const observed = (done: () => void, query: (...a: unknown[]) => unknown, self: unknown, args: unknown[]) => {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const cb = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        done();
        return cb(...a);
      };
      return query.apply(self, args);
    }
    const result = query.apply(self, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    return result;
  };
  const pgQuery = pg.Client.prototype.query;
  const liteQuery = PGlite.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    let done = () => {};
    if (typeof config === 'string') done = record(config, false);
    else if (config && typeof config === 'object' && 'text' in config) done = record(String(config.text), 'name' in config && Boolean(config.name));
    return observed(done, pgQuery as (...a: unknown[]) => unknown, this, [config, ...rest]);
  } as typeof pgQuery;
  PGlite.prototype.query = function (this: PGlite, text: string, ...rest: unknown[]) {
    return observed(record(text, false), liteQuery as (...a: unknown[]) => unknown, this, [text, ...rest]);
  } as typeof liteQuery;
  return {
    sent,
    clear: () => {
      sent.splice(0);
      answered.splice(0);
      epoch++;
    },
    stop() {
      pg.Client.prototype.query = pgQuery;
      PGlite.prototype.query = liteQuery;
    },
  };
}
