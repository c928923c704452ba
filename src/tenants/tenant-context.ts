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

/** Builds the context for a tenant row; the scoped client is reused per (database, tenant). */
export function tenantContext(db: Db, row: TenantRow): TenantCtx {
  let perDb = cache.get(db);
  if (!perDb) cache.set(db, (perDb = new Map()));
  let scoped = perDb.get(row.id);
  if (!scoped) perDb.set(row.id, (scoped = scopedDb(db, row.id)));
  return { id: row.id, slug: row.slug, name: row.name, settings: parseTenantSettings(row.settings), db: scoped };
}
