import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { adminQuery, withDatabase } from './global-setup.js';

export type TestDbKind = 'pglite' | 'postgres';

/** Every database-touching test runs on PGlite and, when TEST_DATABASE_URL is set, on PostgreSQL too. */
export const testDbKinds: TestDbKind[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/**
 * A fresh, migrated, isolated database: an in-memory PGlite loaded from the run's snapshot, or a PostgreSQL database
 * cloned from the run's template. `close()` also drops the PostgreSQL database.
 */
export async function openTestDatabase(kind: TestDbKind): Promise<Database & { url?: string }> {
  if (kind === 'pglite') {
    const snapshot = await readFile(inject('pgliteSnapshot'));
    return openDatabase({ kind: 'pglite', loadDataDir: new Blob([snapshot]) });
  }
  const url = process.env.TEST_DATABASE_URL!;
  const template = inject('postgresTemplate')!;
  const name = `ssob_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  // PostgreSQL refuses two copies of one template at the same moment: serialize them across test workers.
  await adminQuery(url, 'SELECT pg_advisory_lock(4242)', `CREATE DATABASE "${name}" TEMPLATE "${template}"`, 'SELECT pg_advisory_unlock(4242)');
  const db = await openDatabase({ kind: 'postgres', url: withDatabase(url, name), poolSize: 5 });
  const close = db.close.bind(db);
  return {
    ...db,
    url: withDatabase(url, name),
    close: async () => {
      await close();
      await adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
