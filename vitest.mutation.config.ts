import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The vitest configuration Stryker runs (scripts/mutation.mjs): the normal one, limited to the test files that
 * cover the module being mutated (MUTATION_TESTS, comma-separated), and PGlite only — a mutation run executes the
 * same tests once per mutant, so it never uses TEST_DATABASE_URL.
 */
const files = (process.env.MUTATION_TESTS ?? '').split(',').filter(Boolean);
if (files.length === 0) throw new Error('MUTATION_TESTS is empty: run mutation tests through `npm run test:mutation`');
delete process.env.TEST_DATABASE_URL;

// Replaces `include` (mergeConfig would append to the normal suite's pattern).
// MUTATION_DB=0: the module's tests open no database, so the migrating global setup is skipped.
const globalSetup = process.env.MUTATION_DB === '0' ? [] : base.test!.globalSetup;
export default defineConfig({ ...base, test: { ...base.test, include: files, globalSetup } });
