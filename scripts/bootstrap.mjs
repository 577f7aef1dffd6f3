// Installs the workspace with the pinned pnpm, so `npm run demo` and `npm test`
// work on a machine that has only Node and npm. It installs only when needed:
// node_modules is missing, or the lockfile, a package.json or the Node version
// changed since the last install (a digest of them is kept in node_modules).
//   node scripts/bootstrap.mjs            install if needed
//   node scripts/bootstrap.mjs --update   install and update the lockfile
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
const update = process.argv.includes('--update');
const stamp = join(root, 'node_modules', '.laminate-install');

/** What an install depends on: the lockfile, the workspace's manifests, pnpm's settings, Node's version. */
function digest() {
  const hash = createHash('sha256').update(`${process.version} ${process.platform} ${process.arch} ${pin}\n`);
  const manifests = ['pnpm-lock.yaml', 'pnpm-workspace.yaml', 'package.json', 'examples/package.json', 'benchmarks/package.json'];
  for (const name of readdirSync(join(root, 'packages'))) manifests.push(`packages/${name}/package.json`);
  for (const file of manifests.sort()) {
    const path = join(root, file);
    hash.update(`${file}\n`).update(existsSync(path) ? readFileSync(path) : '');
  }
  return hash.digest('hex');
}

const wanted = digest();
if (!update && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) process.exit(0);

const env = { ...process.env };
// Native addons (zstd-napi) compile against the headers of the running Node;
// pointing node-gyp at them avoids a download the network may not allow.
const nodedir = join(dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(join(nodedir, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodedir;
// prebuild-install would try to fetch a binary from outside the registry; build from source instead.
env.npm_config_build_from_source = 'true';

const lock = existsSync(join(root, 'pnpm-lock.yaml')) && !update;
const args = ['--yes', pin, 'install', lock ? '--frozen-lockfile' : '--no-frozen-lockfile'];
const run = spawnSync('npx', args, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
if (run.status !== 0) {
  console.error(`laminate: "npx ${args.join(' ')}" failed (exit ${run.status}); see the output above.`);
  process.exit(run.status ?? 1);
}
// Written after the install (which may have rewritten the lockfile), so it matches what is now installed.
writeFileSync(stamp, digest());
