#!/usr/bin/env node
// `npm run test:mutation [-- --mutate <module> ...]`: StrykerJS on the modules that decide access, one module at a
// time, each with only the test files that cover it (a mutation run repeats those tests per mutant; the whole suite
// per mutant would take hours on a small machine). Incremental: each module keeps its previous results in
// reports/mutation/<module>.json, so a re-run only executes mutants in changed code or covered by changed tests.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/**
 * Module → the test files that prove its guards, and whether they need the test databases (without, the run skips
 * the global setup that migrates PGlite). Keep in step with docs/testing.md.
 */
export const MODULES = {
  'src/mcp/bearer-auth.ts': { tests: ['test/mcp/bearer-auth-guards.test.ts'], db: false },
  'src/oauth/verify-access-token.ts': { tests: ['test/oauth/verify-access-token-guards.test.ts'], db: true },
  'src/oauth/rs256-jwt.ts': { tests: ['test/oauth/rs256-jwt.test.ts'], db: false },
  // The rotation logic over an in-memory conditional-update stand-in (a database per mutant took hours); the claim
  // raced for real on PostgreSQL is refresh-rotation-guards.test.ts, in the normal suite.
  'src/oauth/refresh-rotation.ts': { tests: ['test/oauth/refresh-rotation-unit.test.ts'], db: false },
  'src/scim/scim-auth.ts': { tests: ['test/scim/scim-auth-guards.test.ts'], db: false },
  'src/sso/return-to.ts': { tests: ['test/sso/return-to.test.ts'], db: false },
  'src/sso/saml/inspect-response.ts': { tests: ['test/sso/saml-inspect-response.test.ts'], db: false },
  'src/sso/saml/consume-saml-response.ts': { tests: ['test/sso/saml-consume-guards.test.ts'], db: false },
  'src/scim/filter-sql.ts': { tests: ['test/scim/filter-sql.test.ts'], db: true },
  'src/oauth/cross-app/jwt-checks.ts': { tests: ['test/oauth/jwt-checks.test.ts'], db: false },
  'src/oauth/cross-app/verify-idp-token.ts': { tests: ['test/oauth/verify-idp-token-guards.test.ts'], db: false },
  'src/oauth/cross-app/resolve-subject.ts': { tests: ['test/oauth/resolve-subject-guards.test.ts'], db: false },
  'src/admin/http/require-admin.ts': { tests: ['test/admin/admin-session-guards.test.ts'], db: false },
  'src/admin/http/admin-session.ts': { tests: ['test/admin/admin-session-guards.test.ts'], db: false },
  // Connectors' identity mapping: only the lines that pick whom a Google tool acts as (the rest of these files is
  // retries and error wording), as Stryker line ranges.
  'src/connectors/google/google-call.ts:131-165,src/connectors/google/google-config.ts:25-25': {
    tests: ['test/connectors/google-identity-guards.test.ts'],
    db: false,
    name: 'connectors__google__identity',
  },
  'src/connectors/microsoft/microsoft-tokens.ts:40-143': {
    tests: ['test/connectors/microsoft-identity-guards.test.ts'],
    db: false,
    name: 'connectors__microsoft__identity',
  },
  'src/oauth/cross-app/verify-id-jag.ts': { tests: ['test/oauth/verify-id-jag-guards.test.ts'], db: false },
};

const args = process.argv.slice(2);
const picked = [];
const rest = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--mutate' || args[i] === '-m') {
    const arg = args[++i];
    // A key may itself be a comma-separated list of Stryker mutate patterns (line ranges of several files).
    picked.push(...(arg in MODULES ? [arg] : arg.split(',')));
  }
  else rest.push(args[i]);
}
const modules = picked.length ? picked : Object.keys(MODULES);
mkdirSync('reports/mutation/narrowed', { recursive: true });
let failed = false;
for (const mod of modules) {
  // `file.ts:L-L` of a known module: a narrowed re-measure of changed lines, with the module's tests. It keeps its
  // results apart (reports/mutation/narrowed/, not committed) so the module's full incremental file stays whole.
  const file = mod.replace(/:[\d,-]+$/, '');
  const narrowed = !MODULES[mod] && file !== mod && MODULES[file];
  const entry = MODULES[mod] ?? (narrowed ? MODULES[file] : undefined);
  if (!entry) {
    console.error(`${mod}: not a mutation-tested module; known: ${Object.keys(MODULES).join(', ')}`);
    process.exit(2);
  }
  const { tests, db } = entry;
  const base = entry.name ?? file.replace(/^src\//, '').replace(/\.ts$/, '').replaceAll('/', '__');
  const name = narrowed ? `narrowed/${base}` : base;
  console.log(`\n=== ${mod}  (tests: ${tests.join(', ')})`);
  const r = spawnSync(
    'npx',
    ['stryker', 'run', '--mutate', mod, '--incrementalFile', `reports/mutation/${name}.json`, ...rest],
    { stdio: 'inherit', env: { ...process.env, MUTATION_TESTS: tests.join(','), MUTATION_DB: db ? '1' : '0' } },
  );
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
