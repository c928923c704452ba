// `npm run bench`: every benchmark, each printed beside a baseline measured in the same run.
// Goals (not asserted; see docs/benchmarks.md): warm start < 3 s; idle RSS < 150 MB on PostgreSQL.
import { spawnSync } from 'node:child_process';
import { benchStartup } from './startup.js';

const databaseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const only = process.argv.slice(2).find((a) => !a.startsWith('--'));
// `--quick`: small counts and short durations while developing (explicit BENCH_* variables still win).
if (process.argv.includes('--quick')) {
  for (const [name, value] of Object.entries({
    BENCH_SCIM_CREATES: '1000', BENCH_SCIM_USERS: '5000', BENCH_SCIM_QUERIES: '200',
    BENCH_ENTRA_SECONDS: '5', BENCH_MCP_CALLS: '1000', BENCH_MCP_ROUNDS: '2',
    BENCH_TOKEN_CODES: '250', BENCH_TOKEN_REFRESHES: '500', BENCH_COLD_USERS: '100', BENCH_COLD_DROPS: '20',
    BENCH_TENANTS_N: '100', BENCH_POP_CALLS: '3000', BENCH_POP_LISTS: '500', BENCH_POP_ROUNDS: '2', BENCH_POP_OPEN_REQUESTS: '3000',
  })) process.env[name] ??= value;
}

if (spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' }).status !== 0) process.exit(1);

if (!only || only === 'startup') {
  const { baseline, results } = await benchStartup(databaseUrl);
  console.log('\n## Start-up (time to first 200 from /healthz) and idle RSS');
  console.log('| case | time | × baseline | idle RSS |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of Object.entries(results)) {
    if (typeof r === 'string') console.log(`| ${name} | ${r} | | |`);
    else console.log(`| ${name} | ${r.ms.toFixed(0)} ms | ${(r.ms / baseline.ms).toFixed(1)}× | ${r.rssMb.toFixed(0)} MB |`);
  }
}

for (const [name, modulePath] of [
  ['scim', './scim.js'],
  ['scim-entra', './scim-entra.js'],
  ['mcp', './mcp.js'],
  ['mcp-population', './mcp-population.js'],
  ['token', './token.js'],
  ['cold', './cold.js'],
  ['tenants', './tenants.js'],
] as const) {
  if (only && only !== name) continue;
  const mod = (await import(modulePath).catch(() => null)) as { main?: (databaseUrl: string) => Promise<void> } | null;
  if (mod?.main) await mod.main(databaseUrl);
  else console.log(`\n## ${name}: benchmark not available`);
}
