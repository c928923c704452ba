import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hotQuery, statement } from '../../src/db/hot-sql.js';
import type { Database } from '../../src/db/open-database.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

describe('statement names', () => {
  it('refuses one name for two texts (a prepared statement is found by name on each connection)', () => {
    statement('test_dup', 'SELECT 1');
    expect(() => statement('test_dup', 'SELECT 1')).not.toThrow();
    expect(() => statement('test_dup', 'SELECT 2')).toThrow(/already used/);
  });
});

const ECHO_TS = statement('test_echo_ts', `SELECT $1::timestamp(3) AS "at", ($1::timestamp(3) = '2026-12-06 05:40:00.123'::timestamp(3)) AS "same"`);
const FAILS = statement('test_fails', `SELECT CASE WHEN $1::text IS NOT NULL THEN 1 / 0 END AS "n"`);
const SELF_PREPARED = statement('test_self_prepared', `SELECT count(*)::int AS "n" FROM pg_prepared_statements WHERE name = $1`);

describe.each(testDbKinds)('hot statements on the driver (%s)', (kind) => {
  let database: Database;
  let t: TenantCtx;
  const tz = process.env.TZ;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await createTenant(database.prisma, { slug: 'hot-a', name: 'A' });
    t = (await findTenantBySlug(database.prisma, 'hot-a'))!;
  });
  afterAll(() => database?.close());
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it('sends and reads timestamp(3) as UTC whatever the process time zone', async () => {
    process.env.TZ = 'America/New_York';
    const at = new Date('2026-12-06T05:40:00.123Z');
    expect(at.getHours()).not.toBe(at.getUTCHours()); // the zone really changed for this process
    for (const db of [database.prisma, t.db]) {
      const [row] = await hotQuery<{ at: Date; same: boolean }>(db, ECHO_TS, [at]);
      expect(row!.same).toBe(true);
      expect(row!.at.toISOString()).toBe('2026-12-06T05:40:00.123Z');
    }
  });

  it('a failed statement’s error keeps the SQLSTATE and message but never its parameters (errors are logged)', async () => {
    const err = await hotQuery(t.db, FAILS, ['contents-marker']).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'HotSqlError', code: '22012', statement: FAILS.name });
    expect(`${JSON.stringify(err)} ${(err as Error).message} ${String((err as Error).stack)}`).not.toContain('contents-marker');
  });

  it.runIf(kind === 'postgres')('runs as a named prepared statement, through the tenant-scoped client too', async () => {
    for (const db of [database.prisma, t.db]) {
      const [row] = await hotQuery<{ n: number }>(db, SELF_PREPARED, [SELF_PREPARED.name]);
      expect(row!.n).toBe(1);
    }
  });
});
