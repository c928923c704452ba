// The cost of a refresh rotation's write (the second of its two statements, src/oauth/payload-statements.ts) with the
// successor as a row of its own (before decision 0052: the new token, a `RefreshSuccessor` row and the consumed
// token's update) versus written into the consumed token's row (0052: the new token and that update), measured as
// CPU: the application's (process.cpuUsage) and the benchmark database server's (bench/support.ts) per rotation, for N
// rotations of claimed tokens at concurrency 8, rounds of the two statements alternating. CPU time is what a loaded
// 2-core machine measures most stably; WAL and buffers per statement come from pg_stat_statements if installed.
//   npx tsx bench/token/rotation-write-cost.ts   (BENCH_STATEMENT_N, default 2000; BENCH_STATEMENT_CONCURRENCY, default 8)
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { hotQuery, statement } from '../../src/db/hot-sql.js';
import { openDatabase } from '../../src/db/open-database.js';
import { upsertPayload } from '../../src/oauth/payload-statements.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { tenantContext, type TenantCtx } from '../../src/tenants/tenant-context.js';
import { drive, postmasterPid, printCostRow, scratchDatabase } from '../support.js';

const N = Number(process.env.BENCH_STATEMENT_N ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_STATEMENT_CONCURRENCY ?? 8);

// oidc_upsert before decision 0052 (commit 017939e), as a rotation sends it.
const UPSERT_WITH_RECORD = statement(
  'bench_oidc_upsert_successor_row',
  `WITH upserted AS (
    INSERT INTO "OidcPayload" ("tenantId", "model", "id", "payload", "grantId", "userCode", "uid", "accountId", "expiresAt", "createdAt")
      VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9::timestamp(3), $10::timestamp(3))
      ON CONFLICT ("tenantId", "model", "id") DO UPDATE SET "payload" = EXCLUDED."payload", "grantId" = EXCLUDED."grantId",
        "userCode" = EXCLUDED."userCode", "uid" = EXCLUDED."uid", "accountId" = EXCLUDED."accountId", "expiresAt" = EXCLUDED."expiresAt"
      RETURNING 1),
  client_in_use AS (
    UPDATE "OidcPayload" SET "expiresAt" = NULL
      WHERE $11::text IS NOT NULL AND "tenantId" = $1 AND "model" = 'Client' AND "id" = $11::text AND "expiresAt" IS NOT NULL
      RETURNING 1),
  successor AS (
    INSERT INTO "OidcPayload" ("tenantId", "model", "id", "payload", "grantId", "expiresAt", "createdAt")
      SELECT $1, 'RefreshSuccessor', $12::text, jsonb_build_object('successor', $13::text), $14::text, $15::timestamp(3), $10::timestamp(3)
      WHERE $12::text IS NOT NULL
      ON CONFLICT ("tenantId", "model", "id") DO UPDATE SET "payload" = EXCLUDED."payload", "expiresAt" = EXCLUDED."expiresAt"
      RETURNING 1),
  consumed AS (
    UPDATE "OidcPayload" SET "consumedAt" = COALESCE("consumedAt", $16::timestamp(3)),
        "payload" = "payload" || jsonb_build_object('consumed', $17::bigint)
      WHERE $16::timestamp(3) IS NOT NULL AND "tenantId" = $1 AND "model" = 'RefreshToken' AND "id" = $12::text
      RETURNING 1)
  SELECT (SELECT count(*) FROM upserted) AS n, (SELECT count(*) FROM client_in_use) AS c, (SELECT count(*) FROM successor) AS s,
    (SELECT count(*) FROM consumed) AS u`,
);

const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const scratch = await scratchDatabase(serverUrl, 'rotcost');
const database = await openDatabase({ kind: 'postgres', url: scratch.url });
try {
  await database.migrate();
  const row = await createTenant(database.prisma, { slug: 'bench', name: 'Bench' });
  const t: TenantCtx = tenantContext(database.prisma, { ...row, settings: {} });
  const postmaster = await postmasterPid(scratch.url);
  const grantId = 'grant-1';
  const tokenPayload = { kind: 'RefreshToken', grantId, accountId: 'acc', clientId: 'cli', scope: 'mcp offline_access', iat: 1, exp: 2, rotations: 0 };
  const later = new Date(Date.now() + 86_400_000);
  const token = (id: string) => ({ model: 'RefreshToken', id, payload: { ...tokenPayload, jti: id } as never, grantId, userCode: null, uid: null, accountId: 'acc', expiresAt: later, now: new Date() });
  // Claimed tokens (consumedAt set, as the claim leaves them), fresh per round; written through Prisma, so that
  // pg_stat_statements' figures for the two statements measured are theirs alone.
  const prepare = async (n: number) => {
    const ids = Array.from({ length: n }, () => randomBytes(32).toString('base64url'));
    await drive(n, CONCURRENCY, async (i) => {
      const w = token(ids[i]!);
      await t.db.oidcPayload.create({
        data: { tenantId: t.id, model: w.model, id: w.id, payload: w.payload, grantId, accountId: 'acc', expiresAt: later, consumedAt: new Date() },
      });
    });
    return ids;
  };
  const round = async (label: string, one: (id: string) => Promise<void>) => printCostRow(label, await prepare(N), CONCURRENCY, postmaster, one);
  const successorRow = async (old: string) => {
    const w = token(randomBytes(32).toString('base64url'));
    const at = new Date();
    await hotQuery(t.db, UPSERT_WITH_RECORD, [
      t.id, w.model, w.id, JSON.stringify(w.payload), w.grantId, null, null, w.accountId, w.expiresAt, w.now, null,
      old, w.id, grantId, new Date(at.getTime() + 70_000), at, Math.floor(at.getTime() / 1000),
    ]);
  };
  const inRow = async (old: string) => {
    const w = token(randomBytes(32).toString('base64url'));
    await upsertPayload(t, w, { successor: { id: old, successor: w.id, consumedAt: new Date() } });
  };
  await round('warm-up: successor row', successorRow);
  await round('warm-up: successor in the consumed row', inRow);
  console.log(`\n## Refresh rotation's write: ${N} rotations at concurrency ${CONCURRENCY} (${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log('| statement | application CPU per rotation | PostgreSQL CPU per rotation | rotations/s |');
  console.log('|---|---:|---:|---:|');
  for (let i = 0; i < 3; i++) {
    await round('new token + RefreshSuccessor row + consumed token updated (before 0052)', successorRow);
    await round('new token + consumed token updated with its successor (0052)', inRow);
  }
} finally {
  await database.close();
  await scratch.drop();
}
