import { readFile } from 'node:fs/promises';
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { schemaPath } from './migrations-list.js';

import type { SchemaEngine as Engine } from '@prisma/schema-engine-wasm';

/**
 * The WebAssembly build of Prisma's schema engine, driven through our own driver adapter: Prisma 7's CLI would
 * download a native engine, which cannot happen offline (docs/decisions/0002-prisma-offline.md).
 */
export async function openSchemaEngine(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  log: (line: string) => void = () => {},
): Promise<Engine> {
  // Loaded lazily: the module instantiates a large wasm binary that only migrations need.
  const { SchemaEngine } = await import('@prisma/schema-engine-wasm');
  const datamodel = await readFile(schemaPath, 'utf8');
  return SchemaEngine.new({ datamodels: [[schemaPath, datamodel]] }, log, bindMigrationAwareSqlAdapterFactory(adapterFactory));
}

export const noFilters = { externalTables: [], externalEnums: [] };
