import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { readMigrationList } from './migrations-list.js';
import { noFilters, openSchemaEngine } from './schema-engine.js';

type Query = (sql: string) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * Applies pending migrations from prisma/migrations; returns the names it applied (none when up to date).
 * When `_prisma_migrations` already lists every folder as finished, the schema engine (a large wasm module that
 * takes about a second to load) is not started at all: warm restarts stay fast.
 */
export async function applyMigrations(adapterFactory: SqlMigrationAwareDriverAdapterFactory, query?: Query): Promise<string[]> {
  const migrationsList = await readMigrationList();
  if (query && (await allApplied(query, migrationsList.migrationDirectories.map((d) => d.path)))) return [];
  const engine = await openSchemaEngine(adapterFactory);
  try {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: noFilters });
    return appliedMigrationNames;
  } finally {
    engine.free();
  }
}

async function allApplied(query: Query, names: string[]): Promise<boolean> {
  try {
    const { rows } = await query(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const applied = new Set(rows.map((r) => String(r.migration_name)));
    return names.every((n) => applied.has(n));
  } catch {
    return false; // no table yet: a fresh database
  }
}
