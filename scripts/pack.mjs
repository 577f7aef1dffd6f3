// Builds every package from a clean dist/ and packs each into one tarball in
// packs/ (or the folder given with --out). pnpm pack writes the published
// manifest: workspace:* becomes the real version, publishConfig.exports
// replaces exports. Prints each tarball with its size.
//   node scripts/pack.mjs [--out DIR] [--no-clean]
// --no-clean builds incrementally instead of from empty dist/ folders (the
// consumer test uses it, so tests running beside it keep their dist/).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGES, build } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--out');
const out = resolve(outFlag > 0 ? process.argv[outFlag + 1] : join(root, 'packs'));
const pin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;

try {
  build({ clean: !process.argv.includes('--no-clean') });
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
for (const file of readdirSync(out)) if (file.endsWith('.tgz')) rmSync(join(out, file));
for (const name of PACKAGES) {
  const run = spawnSync('npx', ['--yes', pin, 'pack', '--pack-destination', out], { cwd: join(root, 'packages', name), stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0) {
    console.error(`laminate: pnpm pack failed in packages/${name} (exit ${run.status}).`);
    process.exit(1);
  }
}
for (const file of readdirSync(out).filter((f) => f.endsWith('.tgz')).sort()) {
  console.log(`${join(out, file)}\t${(statSync(join(out, file)).size / 1024).toFixed(1)} KiB`);
}
