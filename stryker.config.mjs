// StrykerJS configuration for `npm run test:mutation` (docs/testing.md). scripts/mutation.mjs passes --mutate, the
// incremental file and the test files (MUTATION_TESTS) for one module at a time.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  // No TypeScript checker: it would classify a removed guard as a compile error and never run the mutant. The
  // instrumented files get `// @ts-nocheck` (disableTypeChecks, Stryker's default), so every mutant really executes.
  checkers: [],
  coverageAnalysis: 'perTest',
  concurrency: 1,
  incremental: true,
  timeoutMS: 60_000,
  timeoutFactor: 3,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: 'reports/mutation/last-run.json' },
  clearTextReporter: { allowEmojis: false, logTests: false, reportScoreTable: true, reportMutants: true },
  ignorePatterns: ['dist', 'data', 'coverage', 'reports', 'bench', '.stryker-tmp'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 95, low: 90, break: null },
};
