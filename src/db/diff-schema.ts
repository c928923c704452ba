import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { readMigrationList, schemaPath } from './migrations-list.js';
import { noFilters, openSchemaEngine } from './schema-engine.js';

/**
 * SQL that takes a database from the state prisma/migrations produce to the state schema.prisma describes.
 * Empty when they agree. Runs on a throw-away in-memory PGlite (the engine replays the migrations on a shadow db).
 */
export async function diffMigrationsToSchema(): Promise<string> {
  const pglite = await PGlite.create();
  const engine = await openSchemaEngine(new PrismaPGlite(pglite));
  try {
    const migrationsList = await readMigrationList();
    const content = await readFile(schemaPath, 'utf8');
    const from =
      migrationsList.migrationDirectories.length === 0
        ? ({ tag: 'empty' } as const)
        : ({ tag: 'migrations', ...migrationsList } as const);
    const result = await engine.diff({
      from,
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content }] },
      script: true,
      exitCode: null,
      filters: noFilters,
    });
    const sql = result.stdout ?? '';
    return /^\s*(-- This is an empty migration\.)?\s*$/.test(sql) ? '' : sql;
  } finally {
    engine.free();
    await pglite.close();
  }
}
