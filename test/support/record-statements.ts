import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { hotStatementName } from '../../src/db/hot-sql.js';
import type { TestApp } from './test-app.js';

export interface SentStatement {
  text: string;
  /** The hot statement's declared name (hot-sql.ts), or undefined for any other SQL (Prisma's, the bus's NOTIFY). */
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

export interface StatementRecorder {
  /** Every statement sent since the last clear, in the order sent. */
  readonly sent: SentStatement[];
  clear(): void;
  /** The statements sent since the last clear, then clears. */
  take(): SentStatement[];
  /** Puts the drivers' own query methods back. */
  stop(): void;
}

/**
 * The bus's LISTEN connection: its LISTEN and its heartbeat run on their own schedule, never as a request's round trip.
 * Its NOTIFY (`SELECT pg_notify(…)`) is recorded: a write that notifies on its own costs the request a round trip.
 */
const LISTENING_CONNECTION = /^LISTEN |sso_bridge_bus_heartbeat/;

/**
 * Records every statement this process sends to the database, on both drivers — pg's Client (the pool, Prisma's
 * adapter and the hot statements all use it) and PGlite's query — because the statements and round trips a request
 * costs are what the hot paths were built to cut (issue 17): a test counts them deterministically instead of timing
 * them, and fails on code that sends one more. The app's periodic jobs are stopped first, for good: their timers
 * would add statements of their own. Not seen on PGlite: statements inside a `transaction()` and `exec()`
 * (migrations, Prisma's interactive transactions), which bypass its query method.
 */
export async function recordStatements(app: Pick<TestApp, 'services'>): Promise<StatementRecorder> {
  await app.services.jobs.stop();
  const sent: SentStatement[] = [];
  /** Rounds of the recorded statements that have answered (cleared with `sent`). */
  const answered: number[] = [];
  let epoch = 0;
  /** Records a statement being sent; the returned function marks it answered. */
  const record = (text: string, prepared: boolean): (() => void) => {
    if (LISTENING_CONNECTION.test(text)) return () => {};
    const round = 1 + Math.max(0, ...answered);
    sent.push({ text, hot: hotStatementName(text), prepared, round });
    const mine = epoch;
    return () => {
      if (mine === epoch) answered.push(round);
    };
  };
  const restorePg = wrapQuery(pg.Client.prototype, (config) => {
    if (typeof config === 'string') return record(config, false);
    if (config && typeof config === 'object' && 'text' in config) return record(String(config.text), 'name' in config && Boolean(config.name));
    return () => {};
  });
  const restoreLite = wrapQuery(PGlite.prototype, (text) => record(String(text), false));
  const clear = () => {
    sent.splice(0);
    answered.splice(0);
    epoch++;
  };
  return {
    sent,
    clear,
    take() {
      const taken = [...sent];
      clear();
      return taken;
    },
    stop() {
      restorePg();
      restoreLite();
    },
  };
}

/** A statement as a test lists it: the hot statement's name, else `sql: ` and the start of its text on one line. */
export function statementLabel(s: SentStatement): string {
  return s.hot ?? `sql: ${s.text.replace(/\s+/g, ' ').trim().slice(0, 80)}`;
}

type Query = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Wraps `query` where `proto`'s chain defines it (PGlite's is its base class's), calling `sending` with the first
 * argument and the function it returns once the statement answered (its callback ran or its promise settled).
 * Returns the function that puts the original back.
 */
function wrapQuery(proto: object, sending: (first: unknown) => () => void): () => void {
  let owner: object | null = proto;
  while (owner && !Object.hasOwn(owner, 'query')) owner = Object.getPrototypeOf(owner) as object | null;
  if (!owner) throw new Error('no query method to record');
  const target = owner as { query: Query };
  const original = target.query;
  target.query = function (this: unknown, ...args: unknown[]) {
    const done = sending(args[0]);
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const cb = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        done();
        return cb(...a);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    return result;
  };
  return () => {
    target.query = original;
  };
}
