import { shareDriver } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import { scopedDb, type ScopedDb } from './scoped-db.js';
import { parseTenantSettings, type TenantSettings } from './settings.js';

/** A resolved tenant, passed explicitly from the edge to every function that touches its data. */
export interface TenantCtx {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly settings: TenantSettings;
  /** Tenant-scoped data access (see scoped-db.ts). */
  readonly db: ScopedDb;
}

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  settings: unknown;
}

const cache = new WeakMap<Db, Map<string, ScopedDb>>();

/**
 * Scoped clients kept per database, least recently used dropped first: a node touched by thousands of tenants keeps
 * the busy ones (a Prisma extension is ~20 KB of proxies and closures; unbounded, memory grew with every tenant ever
 * seen — issue 17 §3). A dropped one is rebuilt on next use (microseconds); one still held by a request keeps working.
 */
export const MAX_SCOPED_CLIENTS = 500;

/** Builds the context for a tenant row; the scoped client is reused per (database, tenant). */
export function tenantContext(db: Db, row: TenantRow): TenantCtx {
  let perDb = cache.get(db);
  if (!perDb) cache.set(db, (perDb = new Map()));
  let scoped = perDb.get(row.id);
  if (scoped) {
    // Map iteration order is insertion order: re-inserting marks the entry most recently used.
    perDb.delete(row.id);
  } else {
    scoped = scopedDb(db, row.id);
    shareDriver(db, scoped);
    if (perDb.size >= MAX_SCOPED_CLIENTS) perDb.delete(perDb.keys().next().value!);
  }
  perDb.set(row.id, scoped);
  return { id: row.id, slug: row.slug, name: row.name, settings: parseTenantSettings(row.settings), db: scoped };
}

/** How many scoped clients are kept for this database (tests). */
export function scopedClientCount(db: Db): number {
  return cache.get(db)?.size ?? 0;
}
