// The vitest configuration of a mutation run (stryker.config.mjs): the workspace's own, with only
// the test files that watch the mutated module. Stryker passes them in LAMINATE_MUTATE_TESTS
// rather than through its testFiles option, because with testFiles it activates module-level
// mutants (constants such as a Set of names) only after the module has loaded, so they could never fail.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

const tests = (process.env.LAMINATE_MUTATE_TESTS ?? '').split(',').filter(Boolean);
if (tests.length === 0) throw new Error('vitest.mutate.config.ts is for mutation runs: run `npm run mutate`, which names the test files');

export default defineConfig({ ...base, test: { ...base.test, include: tests } });
