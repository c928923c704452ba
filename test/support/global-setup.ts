import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/open-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshot: string;
    postgresTemplate: string | null;
  }
}

/**
 * Migrates once per run — a PGlite snapshot and, when TEST_DATABASE_URL is set, a PostgreSQL template database —
 * so each test file starts from a fresh, migrated copy in milliseconds instead of re-running migrations.
 */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sso-bridge-test-'));
  // Traversable by other users (not listable), as the system's is: a test's own PostgreSQL server runs its binaries as
  // the `postgres` user, in a directory of its own below this one (postgres-instance.ts). Each mkdtemp below is 0700.
  await chmod(dir, 0o711);
  // Every temporary directory of the run — the test apps' DATA_DIRs, test CAs, fakes' files, what spawned tools write —
  // is made under this one (os.tmpdir() reads TMPDIR; the test files' processes are forked after this and inherit it)
  // and removed with it at teardown, instead of piling up in the system's.
  const systemTmpDir = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  const pglite = await openDatabase({ kind: 'pglite' });
  await pglite.migrate();
  const snapshot = path.join(dir, 'pglite.tar');
  await writeFile(snapshot, Buffer.from(await (await pglite.dumpDataDir!()).arrayBuffer()));
  await pglite.close();
  project.provide('pgliteSnapshot', snapshot);

  const url = process.env.TEST_DATABASE_URL;
  let template: string | null = null;
  if (url) {
    template = `ssob_tpl_${process.pid}_${Date.now().toString(36)}`;
    await adminQuery(url, `CREATE DATABASE "${template}"`);
    const db = await openDatabase({ kind: 'postgres', url: withDatabase(url, template), poolSize: 2 });
    await db.migrate();
    await db.close();
  }
  project.provide('postgresTemplate', template);

  return async () => {
    if (systemTmpDir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = systemTmpDir;
    await rm(dir, { recursive: true, force: true });
    if (url && template) {
      // Drop the template and any per-file database a crashed test left behind.
      const { rows } = await adminQuery(url, `SELECT datname FROM pg_database WHERE datname LIKE 'ssob_%${process.pid}%' OR datname = '${template}'`);
      for (const r of rows) await adminQuery(url, `DROP DATABASE IF EXISTS "${String(r.datname)}" WITH (FORCE)`);
    }
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs statements one by one on one connection (CREATE DATABASE cannot share a multi-statement query). */
export async function adminQuery(url: string, ...statements: string[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let result!: pg.QueryResult;
    for (const sql of statements) result = await client.query(sql);
    return result;
  } finally {
    await client.end();
  }
}
