import path from 'node:path';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { Client as PgClient } from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { acquireDataDirLock } from './pglite-lock.js';
import { applyMigrations } from './migrate.js';
import { wholeScriptPg } from './whole-script-adapter.js';
import { parseUtcTimestamp, registerDriver, TIMESTAMP_OID } from './hot-sql.js';

export type Db = PrismaClient;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolSize?: number }
  /** `dataDir: undefined` = in memory; `loadDataDir` starts from a dump (tests start from a migrated snapshot). */
  | { kind: 'pglite'; dataDir?: string; loadDataDir?: Blob };

export interface Database {
  kind: DatabaseTarget['kind'];
  prisma: Db;
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Runs one raw statement outside Prisma (LISTEN/NOTIFY, advisory locks). */
  raw: RawConnection;
  /** Applies pending migrations; on PostgreSQL under an advisory lock so nodes starting together do not race. */
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** PostgreSQL only: the application pool's connections now (for /metrics). */
  poolStats?: () => { total: number; idle: number; waiting: number; max: number };
  /** PGlite only: a snapshot of the data directory (tests clone a migrated database from it). */
  dumpDataDir: (() => Promise<File | Blob>) | undefined;
}

export interface RawConnection {
  /** PGlite: one process owns the database, so a notification can never be missed by another node. */
  readonly inProcess: boolean;
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  /**
   * LISTENs on a dedicated connection. `onLost` is called once if that connection fails or ends (the listener is then
   * dead: listen again); `ping` runs a query on the same connection, proving every notification committed before it
   * was sent has been received (PostgreSQL delivers notifications ahead of the next ReadyForQuery).
   */
  listen(channel: string, onMessage: (payload: string) => void, onLost?: (err: Error) => void): Promise<Listening>;
  notify(channel: string, payload: string): Promise<void>;
}

export interface Listening {
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function targetFromConfig(config: { databaseUrl?: string | undefined; dataDir: string }): DatabaseTarget {
  return config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl }
    : { kind: 'pglite', dataDir: path.join(config.dataDir, 'pglite') };
}

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  return target.kind === 'postgres' ? openPostgres(target) : openPglite(target);
}

// Arbitrary but fixed: every node uses the same key for the migration lock.
const MIGRATION_LOCK_KEY = 7_451_220_981;

async function openPostgres(target: Extract<DatabaseTarget, { kind: 'postgres' }>): Promise<Database> {
  const pg = (await import('pg')).default;
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const pool = new pg.Pool({ connectionString: target.url, max: target.poolSize ?? 10 });
  pool.on('error', () => {}); // idle client errors surface on the next query instead of crashing the process
  const adapterFactory = new PrismaPg(pool);
  const prisma = new PrismaClient({ adapter: adapterFactory });
  // Per-query type parsers (hot-sql.ts): the pool's global parsers stay pg's defaults for everyone else.
  const hotTypes = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === TIMESTAMP_OID ? parseUtcTimestamp : pg.types.getTypeParser(oid, format)) };
  registerDriver(prisma, async (st, values) => (await pool.query<Record<string, unknown>>({ name: st.name, text: st.text, values, types: hotTypes })).rows);
  const listeners: PgClient[] = [];
  const raw: RawConnection = {
    inProcess: false,
    query: (sql, params) => pool.query(sql, params as unknown[]),
    async listen(channel, onMessage, onLost) {
      // TCP keepalive: a silently dropped connection errors eventually even if no heartbeat query is running.
      const client = new pg.Client({ connectionString: target.url, keepAlive: true });
      let closed = false;
      const lost = (err: Error) => {
        if (closed) return;
        closed = true;
        const i = listeners.indexOf(client);
        if (i >= 0) listeners.splice(i, 1);
        onLost?.(err);
      };
      client.on('error', lost);
      client.on('end', () => lost(new Error('LISTEN connection ended')));
      try {
        await client.connect();
        client.on('notification', (msg) => {
          if (msg.channel === channel && msg.payload !== undefined) onMessage(msg.payload);
        });
        await client.query(`LISTEN "${channel.replace(/"/g, '')}"`);
      } catch (err) {
        closed = true;
        await client.end().catch(() => {});
        throw err;
      }
      listeners.push(client);
      return {
        ping: async () => {
          // Named, so an operator (and a test) can tell the bus's connection apart in pg_stat_activity.
          await client.query('SELECT 1 AS sso_bridge_bus_heartbeat');
        },
        close: async () => {
          closed = true;
          const i = listeners.indexOf(client);
          if (i >= 0) listeners.splice(i, 1);
          // end() waits for the server's goodbye, which a dead socket never sends.
          await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
        },
      };
    },
    async notify(channel, payload) {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
  };
  return {
    kind: 'postgres',
    dumpDataDir: undefined,
    prisma,
    adapterFactory,
    raw,
    async migrate() {
      // A session-level advisory lock on a dedicated connection: the schema engine uses its own connections.
      const lockClient = await pool.connect();
      try {
        await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        // The engine gets its own small pool, ended afterwards (the engine does not close it).
        const enginePool = new pg.Pool({ connectionString: target.url, max: 2 });
        try {
          return await applyMigrations(await wholeScriptPg(enginePool), (sql) => pool.query(sql));
        } finally {
          await enginePool.end();
        }
      } finally {
        await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
        lockClient.release();
      }
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 }),
    async close() {
      await Promise.all(listeners.map((c) => c.end().catch(() => {})));
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(target: Extract<DatabaseTarget, { kind: 'pglite' }>): Promise<Database> {
  const release = target.dataDir ? acquireDataDirLock(path.dirname(target.dataDir)) : () => {};
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const { PrismaPGlite } = await import('pglite-prisma-adapter');
    const pglite = await PGlite.create({
      ...(target.dataDir && { dataDir: target.dataDir }),
      ...(target.loadDataDir && { loadDataDir: target.loadDataDir }),
    });
    const adapterFactory = new PrismaPGlite(pglite);
    const prisma = new PrismaClient({ adapter: adapterFactory });
    registerDriver(prisma, async (st, values) => (await pglite.query<Record<string, unknown>>(st.text, values, { parsers: { [TIMESTAMP_OID]: parseUtcTimestamp } })).rows);
    const raw: RawConnection = {
      inProcess: true,
      query: async (sql, params) => ({ rows: (await pglite.query<Record<string, unknown>>(sql, params as unknown[])).rows }),
      listen: async (channel, onMessage) => {
        const unsubscribe = await pglite.listen(channel, onMessage);
        return { ping: async () => {}, close: async () => unsubscribe() };
      },
      notify: async (channel, payload) => {
        await pglite.query('SELECT pg_notify($1, $2)', [channel, payload]);
      },
    };
    return {
      kind: 'pglite',
      dumpDataDir: () => pglite.dumpDataDir('none'),
      prisma,
      adapterFactory,
      raw,
      // One process owns the directory (see pglite-lock.ts), so no cross-node lock is needed here.
      migrate: () => applyMigrations(adapterFactory, raw.query),
      async ping() {
        await pglite.query('SELECT 1');
      },
      async close() {
        await prisma.$disconnect();
        await pglite.close();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}
