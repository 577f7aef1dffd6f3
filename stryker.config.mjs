// Mutation testing (StrykerJS) of the mechanisms where a silent bug loses data.
//
//   npm run mutate                                          every module below, one after another
//   npm run mutate -- --mutate packages/core/src/buffer.ts  one module, with only its own tests
//
// Each module is scored against the test files that exercise it (MODULES), not the whole suite:
// a mutant is killed only by a test that was written to watch that mechanism, and a run of one
// module takes minutes instead of hours. Scores and the equivalent mutants are in docs/testing.md.

import { existsSync } from 'node:fs';

/** Module → the test files that watch it. */
const MODULES = {
  // Framing: the 8-byte length header and reading frames back, whole or torn.
  'packages/core/src/framing.ts': ['packages/core/test/properties.test.ts', 'packages/core/test/corruption.test.ts', 'packages/core/test/framing.test.ts'],
  'packages/core/src/frames.ts': ['packages/core/test/properties.test.ts', 'packages/core/test/corruption.test.ts', 'packages/core/test/framing.test.ts'],
  // Keys → file names: reversible and collision-free.
  'packages/core/src/filenames.ts': ['packages/core/test/filenames.test.ts', 'packages/core/test/filename-table.test.ts', 'packages/core/test/properties.test.ts'],
  'packages/core/src/key-paths.ts': ['packages/core/test/key-paths.test.ts', 'packages/core/test/filenames.test.ts', 'packages/core/test/properties.test.ts', 'packages/core/test/file.test.ts', 'packages/core/test/model.test.ts'],
  'packages/core/src/keys.ts': ['packages/core/test/filenames.test.ts', 'packages/core/test/properties.test.ts', 'packages/core/test/keys.test.ts'],
  // buffer()'s spill policy.
  'packages/core/src/buffer.ts': ['packages/core/test/buffer.test.ts', 'packages/core/test/buffer-limits.test.ts', 'packages/core/test/buffer-reads.test.ts', 'packages/core/test/buffer-spec.test.ts', 'packages/core/test/model.test.ts', 'packages/core/test/buffer-accounting.test.ts', 'packages/core/test/buffer-ranges.test.ts', 'packages/core/test/buffer-trim.test.ts'],
  // The directory lock and the generation counter that tells writers a directory was dropped.
  'packages/core/src/lock-file.ts': ['packages/core/test/lock-file.test.ts', 'packages/core/test/file-lock.test.ts', 'packages/core/test/lock-file-races.test.ts'],
  'packages/core/src/directory-lock.ts': ['packages/core/test/directory-lock.test.ts', 'packages/core/test/file-lock.test.ts', 'packages/core/test/file.test.ts', 'packages/core/test/file-failures.test.ts'],
  'packages/core/src/store-directory.ts': ['packages/core/test/file.test.ts', 'packages/core/test/file-failures.test.ts', 'packages/core/test/directory-state.test.ts'],
  // Exactly-once appends over a connection that is cut.
  'packages/net/src/sessions.ts': ['packages/net/test/reliability.test.ts', 'packages/net/test/net.test.ts', 'packages/net/test/sessions.test.ts'],
  // redis(): the append script, and applyOnce()'s reading of its replies, against a real redis-server (the test files start their own).
  'packages/redis/src/scripts.ts': ['packages/redis/test/redis.test.ts', 'packages/redis/test/conformance.test.ts', 'packages/redis/test/append-script.test.ts'],
  'packages/redis/src/redis.ts': ['packages/redis/test/redis.test.ts', 'packages/redis/test/conformance.test.ts', 'packages/redis/test/append-replies.test.ts', 'packages/redis/test/append-commands.test.ts'],
  // Live streams: follow()'s loop, and file()'s followed reads, seal markers and folder watch (follow.test.ts starts one producer process).
  'packages/core/src/follow.ts': ['packages/core/test/follow.test.ts', 'packages/core/test/follow-positions.test.ts'],
  'packages/core/src/follow-file.ts': ['packages/core/test/follow.test.ts', 'packages/core/test/follow-file.test.ts', 'packages/core/test/follow-file-watch-faults.test.ts'],
  // log(): record framing, the index, the index checkpoint, against their unit tests. log.test.ts (writer processes,
  // SIGKILL, 1,000,000 keys) and log-conformance.test.ts (a few seconds per mutant, with timeouts) are left out: too slow per mutant.
  'packages/core/src/log/record.ts': ['packages/core/test/log-records.test.ts'],
  'packages/core/src/log/log-index.ts': ['packages/core/test/log-index.test.ts'],
  'packages/core/src/log/checkpoint.ts': ['packages/core/test/log-checkpoint.test.ts'],
  // The pool's sampling and its index replay.
  'packages/pool/src/random.ts': ['packages/pool/test/pool.test.ts', 'packages/pool/test/sampling.test.ts'],
  'packages/pool/src/index-replay.ts': ['packages/pool/test/pool.test.ts', 'packages/pool/test/index-replay.test.ts'],
};

/** The files named by --mutate (or -m), without line ranges; every module when none is named. */
function requestedModules() {
  const argv = process.argv;
  const named = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mutate' || argv[i] === '-m') named.push(...String(argv[i + 1] ?? '').split(','));
    else if (argv[i].startsWith('--mutate=')) named.push(...argv[i].slice('--mutate='.length).split(','));
  }
  const files = named.map((pattern) => pattern.replace(/:\d.*$/, '').replace(/^\.\//, '')).filter(Boolean);
  return files.length > 0 ? files : Object.keys(MODULES);
}

const modules = requestedModules();
const unknown = modules.filter((file) => !(file in MODULES));
if (unknown.length > 0) {
  throw new Error(`stryker.config.mjs: no test files are listed for ${unknown.join(', ')}; add the module to MODULES with the tests that watch it`);
}

// vitest.mutate.config.ts runs these files only. Set LAMINATE_MUTATE_TESTS (a comma-separated
// list) beforehand to score a module against other files, such as the suite before a new test.
process.env.LAMINATE_MUTATE_TESTS ||= [...new Set(modules.flatMap((file) => MODULES[file]))].filter((file) => existsSync(file)).join(',');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Named by path: under pnpm, Stryker's own search of @stryker-mutator/* next to its core finds no runner.
  plugins: [import.meta.resolve('@stryker-mutator/vitest-runner')],
  // The test files are listed per module (in vitest.mutate.config.ts, not Stryker's testFiles:
  // see there), so vitest's "related" search, which would find nearly every test through the
  // packages' index files, is off.
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  mutate: Object.keys(MODULES),
  coverageAnalysis: 'perTest',
  // The machine is shared: one test process at a time.
  concurrency: 1,
  // Tests start real child processes and sockets; a slow machine must not turn them into timeouts.
  timeoutMS: 15_000,
  timeoutFactor: 2,
  // The sandbox is a copy of the workspace; every node_modules folder (pnpm's, per package) is
  // linked into it rather than copied. Nothing below is needed to run the tests.
  ignorePatterns: ['docs', 'benchmarks/results', '.bench-tmp', 'packs', 'reports', '.ci/results.json'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
};
