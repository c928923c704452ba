// The cost of the token endpoint's grant lookup as a round trip of its own versus joined to the refresh claim
// (docs/decisions/0047), measured as CPU, not throughput: the application's CPU (process.cpuUsage) and the benchmark
// database server's (its postmaster and children, bench/support.ts) per refresh, for N claims of fresh tokens, each
// either the old pair of statements (claim, then the grant by id) or the claim that returns the grant. CPU time
// is what a loaded 2-core machine measures most stably (issue 17 §5: ratios and rates swung 3× between runs).
//   npx tsx bench/token/statement-cost.ts   (BENCH_STATEMENT_N, default 3000; BENCH_STATEMENT_CONCURRENCY, default 8)
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { hotQuery, statement } from '../../src/db/hot-sql.js';
import { openDatabase } from '../../src/db/open-database.js';
import { findLivePayload, upsertPayload } from '../../src/oauth/payload-statements.js';
import { CLAIM } from '../../src/oauth/refresh-rotation.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { tenantContext, type TenantCtx } from '../../src/tenants/tenant-context.js';
import { drive, postmasterPid, printCostRow, scratchDatabase } from '../support.js';

const N = Number(process.env.BENCH_STATEMENT_N ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_STATEMENT_CONCURRENCY ?? 8);

// The claim before decision 0047: the token's row only.
const CLAIM_ALONE = statement(
  'bench_refresh_claim_alone',
  `UPDATE "OidcPayload" SET "consumedAt" = $3::timestamp(3)
    WHERE "tenantId" = $1 AND "model" = 'RefreshToken' AND "id" = $2 AND "consumedAt" IS NULL
    RETURNING "grantId", "payload", "expiresAt"`,
);

// A plain LEFT JOIN of the grant (first version of 0047): kept to show what its generic plan cost.
const CLAIM_PLAIN_JOIN = statement(
  'bench_refresh_claim_plain_join',
  `WITH c AS (
    UPDATE "OidcPayload" SET "consumedAt" = $3::timestamp(3)
      WHERE "tenantId" = $1 AND "model" = 'RefreshToken' AND "id" = $2 AND "consumedAt" IS NULL
      RETURNING "grantId", "payload", "expiresAt")
  SELECT c."grantId", c."payload", c."expiresAt", g."payload" AS "grantPayload", g."expiresAt" AS "grantExpiresAt"
    FROM c LEFT JOIN "OidcPayload" g ON g."tenantId" = $1 AND g."model" = 'Grant' AND g."id" = c."grantId"`,
);

const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const scratch = await scratchDatabase(serverUrl, 'stmtcost');
const database = await openDatabase({ kind: 'postgres', url: scratch.url });
try {
  await database.migrate();
  const row = await createTenant(database.prisma, { slug: 'bench', name: 'Bench' });
  const t: TenantCtx = tenantContext(database.prisma, { ...row, settings: {} });
  const postmaster = await postmasterPid(scratch.url);
  const grantPayload = { kind: 'Grant', accountId: 'acc', clientId: 'cli', openid: { scope: 'mcp' }, resources: { 'https://x/mcp': 'mcp' } };
  const tokenPayload = { kind: 'RefreshToken', grantId: '', accountId: 'acc', clientId: 'cli', scope: 'mcp offline_access', iat: 1, exp: 2 };
  const later = new Date(Date.now() + 86_400_000);
  const write = (model: string, id: string, payload: object, grantId: string | null) =>
    upsertPayload(t, { model, id, payload: payload as never, grantId, userCode: null, uid: null, accountId: 'acc', expiresAt: later, now: new Date() });
  // Fresh tokens (and their grants) per round, so every claim wins.
  const prepare = async (n: number) => {
    const ids = Array.from({ length: n }, () => randomBytes(16).toString('base64url'));
    await drive(n, CONCURRENCY, async (i) => {
      await write('Grant', `g${ids[i]}`, grantPayload, null);
      await write('RefreshToken', ids[i]!, { ...tokenPayload, grantId: `g${ids[i]}` }, `g${ids[i]}`);
    });
    return ids;
  };
  const round = async (label: string, one: (id: string) => Promise<void>) => printCostRow(label, await prepare(N), CONCURRENCY, postmaster, one);
  const pair = async (id: string) => {
    const [won] = await hotQuery<{ grantId: string }>(t.db, CLAIM_ALONE, [t.id, id, new Date()]);
    if (!(await findLivePayload(t, 'Grant', 'id', won!.grantId, new Date()))) throw new Error('no grant');
  };
  const joinedBy = (st: typeof CLAIM) => async (id: string) => {
    const [won] = await hotQuery<{ grantPayload: unknown }>(t.db, st, [t.id, id, new Date()]);
    if (!won?.grantPayload) throw new Error('no grant');
  };
  const joined = joinedBy(CLAIM);
  await round('warm-up: claim, then grant', pair);
  await round('warm-up: claim with grant', joined);
  console.log(`\n## Refresh claim and grant lookup: ${N} claims at concurrency ${CONCURRENCY} (${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log('| statements | application CPU per refresh | PostgreSQL CPU per refresh | claims/s |');
  console.log('|---|---:|---:|---:|');
  for (let i = 0; i < 2; i++) {
    await round('claim, then grant by id (2 round trips, before 0047)', pair);
    await round('claim returning the grant (1 round trip, 0047)', joined);
  }
  if (process.env.BENCH_STATEMENT_PLAIN_JOIN === '1') await round('claim with a plain LEFT JOIN of the grant (not kept)', joinedBy(CLAIM_PLAIN_JOIN));
} finally {
  await database.close();
  await scratch.drop();
}
