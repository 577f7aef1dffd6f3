// Builds every package's src/ into dist/ with `tsc -b` (project references, in
// dependency order; incremental, so an up-to-date tree costs about a second).
//   node scripts/build.mjs          build what changed
//   node scripts/build.mjs --clean  remove every dist/ first, so nothing stale is left to pack
// ensureBuilt() is what the `laminate` bin calls in a clone of the repository:
// it runs the build only when a dist/ is missing or older than the sources.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packagesDir = join(root, 'packages');
// Touched after every successful build: tsc -b leaves the outputs of unchanged
// packages as they were, so their own times cannot say when the tree was last built.
const stamp = join(root, 'node_modules', '.laminate-built');
export const PACKAGES = readdirSync(packagesDir).filter((name) => existsSync(join(packagesDir, name, 'tsconfig.json')));

export function build({ clean = false, quiet = false } = {}) {
  if (clean) for (const name of PACKAGES) rmSync(join(packagesDir, name, 'dist'), { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) throw new Error('laminate: TypeScript is not installed here; run "npm run bootstrap" first.');
  if (!quiet) process.stderr.write('laminate: building packages/*/dist (tsc -b)…\n');
  const run = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2] });
  if (run.status !== 0) throw new Error(`laminate: the build failed (tsc -b exit ${run.status}); see the errors above.`);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

/** Builds when some package's dist/ is missing or older than a file it is built from. */
export function ensureBuilt() {
  if (isStale()) build();
}

function isStale() {
  if (!existsSync(stamp) || PACKAGES.some((name) => !existsSync(join(packagesDir, name, 'dist', '.tsbuildinfo')))) return true;
  const built = statSync(stamp).mtimeMs;
  const configs = ['tsconfig.base.json', 'tsconfig.build.json'].map((f) => join(root, f));
  for (const name of PACKAGES) configs.push(join(packagesDir, name, 'tsconfig.json'), join(packagesDir, name, 'package.json'));
  return configs.some((f) => statSync(f).mtimeMs > built) || PACKAGES.some((name) => newerThan(join(packagesDir, name, 'src'), built));
}

function newerThan(dir, time) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() ? newerThan(path, time) : statSync(path).mtimeMs > time) return true;
  }
  return false;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    build({ clean: process.argv.includes('--clean') });
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
