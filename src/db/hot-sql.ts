import type { Db } from './open-database.js';

/**
 * Hot statements straight on the driver (issue 17): the per-request reads of the MCP hop, the token endpoint and
 * SCIM went through Prisma's `$queryRaw`, whose client runtime, driver adapter and unprepared SQL text cost more CPU
 * than PostgreSQL's own work for an indexed lookup. Here a statement is sent as a *named prepared statement* on
 * PostgreSQL (parsed once per pooled connection, only its parameters sent afterwards) and as a plain query on PGlite.
 *
 * Type handling is explicit because Prisma's columns are `timestamp(3)` WITHOUT time zone holding UTC:
 * - such timestamps are parsed as UTC (pg and PGlite would parse them in the process's local time zone);
 * - a Date parameter is sent as its UTC wall time (pg would send local time with an offset that PostgreSQL then
 *   drops when casting to `timestamp`).
 * int8 comes back as a string (as pg does); json/jsonb parsed; booleans and float8 as JavaScript values.
 *
 * A parameter must not switch part of a statement on or off (`CASE WHEN $4::boolean THEN (SELECT …)`): PostgreSQL
 * keeps a prepared statement's generic plan only if it costs no more than the custom plans of its first five
 * executions, and a custom plan prunes the part switched off, so every execution is planned again. Declare one
 * statement per variant instead (decision 0049's amendment: ~1 ms per MCP cold read with 200 tools).
 */
export interface Statement {
  /** Unique per SQL text: PostgreSQL keeps the prepared statement per connection under this name. */
  readonly name: string;
  readonly text: string;
}

export type Driver = (s: Statement, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** A client whose raw queries can be sent: the base client or a tenant-scoped extension of it. */
type RawCapable = Pick<Db, '$queryRawUnsafe'>;

const drivers = new WeakMap<RawCapable, Driver>();
const named = new Map<string, string>();

/** Declares a statement once, at module load; a name reused for another text is a programming error. */
export function statement(name: string, text: string): Statement {
  const seen = named.get(name);
  if (seen !== undefined && seen !== text) throw new Error(`SQL statement name ${name} is already used for another text`);
  named.set(name, text);
  return { name: `sb_${name}`, text };
}

/** Called by openDatabase: the driver behind this Prisma client. */
export function registerDriver(db: RawCapable, driver: Driver): void {
  drivers.set(db, driver);
}

/** The driver a client sends hot statements with (tests wrap it with registerDriver to observe the statements). */
export function driverOf(db: RawCapable): Driver | undefined {
  return drivers.get(db);
}

/** A tenant-scoped client sends hot statements through its base client's driver (tenant-context.ts). */
export function shareDriver(base: Db, scoped: RawCapable): void {
  const driver = drivers.get(base);
  if (driver) drivers.set(scoped, driver);
}

/**
 * Runs a hot statement. Without a registered driver (a client not opened by openDatabase) it falls back to Prisma's
 * unsafe raw query with the same positional parameters, so callers never need two code paths.
 */
export async function hotQuery<R>(db: RawCapable, s: Statement, params: unknown[]): Promise<R[]> {
  const values = params.map(toParam);
  const driver = drivers.get(db);
  if (!driver) return db.$queryRawUnsafe<R[]>(s.text, ...params);
  try {
    return (await driver(s, values)) as R[];
  } catch (err) {
    throw new HotSqlError(s, err);
  }
}

/**
 * A failed hot statement, without its parameters: PostgreSQL's error context (`where`: "portal parameter $2 = …")
 * and PGlite's error (`params`) carry the values, which may be an audit batch's contents or a token's grant id, and
 * errors are logged. What stays is what a caller or an operator needs: the message, SQLSTATE and the constraint.
 */
export class HotSqlError extends Error {
  readonly code: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly statement: string;

  constructor(s: Statement, cause: unknown) {
    const e = (cause ?? {}) as { message?: unknown; code?: unknown; constraint?: unknown; table?: unknown; column?: unknown };
    super(typeof e.message === 'string' ? e.message : 'database error');
    this.name = 'HotSqlError';
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    this.code = str(e.code);
    this.constraint = str(e.constraint);
    this.table = str(e.table);
    this.column = str(e.column);
    this.statement = s.name;
  }
}

function toParam(v: unknown): unknown {
  return v instanceof Date ? v.toISOString().slice(0, -1) : v;
}

/** `timestamp` (OID 1114) text as UTC: "2026-12-06 05:40:00.123" → Date. */
export function parseUtcTimestamp(text: string): Date | string {
  if (text === 'infinity' || text === '-infinity') return text;
  return new Date(`${text.replace(' ', 'T')}Z`);
}

export const TIMESTAMP_OID = 1114;

/** The declared name of a statement's text, if it is a hot statement's (tests tell them apart from Prisma's). */
export function hotStatementName(text: string): string | undefined {
  for (const [name, t] of named) if (t === text) return name;
  return undefined;
}
