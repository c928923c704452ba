import { afterAll, describe, expect, it } from 'vitest';
import { diffMigrationsToSchema } from '../../src/db/diff-schema.js';
import { openDatabase } from '../../src/db/open-database.js';
import { readMigrationList } from '../../src/db/migrations-list.js';
import { adminQuery, withDatabase } from '../support/global-setup.js';

describe('migrations', () => {
  it('agree with schema.prisma (an empty diff)', async () => {
    expect(await diffMigrationsToSchema()).toBe('');
  }, 120_000);

  it('are in Prisma folder format with a lock file naming postgresql', async () => {
    const list = await readMigrationList();
    expect(list.migrationDirectories.length).toBeGreaterThan(0);
    for (const d of list.migrationDirectories) expect(d.path).toMatch(/^\d{14}_[a-z0-9_]+$/);
    expect(list.lockfile.content).toContain('provider = "postgresql"');
  });

  it('apply on a fresh PGlite, and a second run applies none', async () => {
    const db = await openDatabase({ kind: 'pglite' });
    try {
      const first = await db.migrate();
      expect(first.length).toBe((await readMigrationList()).migrationDirectories.length);
      expect(await db.migrate()).toEqual([]);
      expect(await db.prisma.tenant.count()).toBe(0);
    } finally {
      await db.close();
    }
  }, 120_000);

  describe.runIf(process.env.TEST_DATABASE_URL)('on PostgreSQL', () => {
    const url = process.env.TEST_DATABASE_URL!;
    const name = `ssob_mig_${process.pid}`;
    afterAll(() => adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

    it('apply once even when several nodes start together (advisory lock)', async () => {
      await adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, `CREATE DATABASE "${name}"`);
      const nodes = await Promise.all([1, 2, 3].map(() => openDatabase({ kind: 'postgres', url: withDatabase(url, name), poolSize: 2 })));
      try {
        const results = await Promise.all(nodes.map((n) => n.migrate()));
        const total = (await readMigrationList()).migrationDirectories.length;
        expect(results.map((r) => r.length).sort()).toEqual([0, 0, total]);
        const { rows } = await nodes[0]!.raw.query('SELECT count(*)::int AS n FROM _prisma_migrations');
        expect(rows[0]!.n).toBe(total);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    }, 120_000);
  });
});
