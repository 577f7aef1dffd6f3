// Installs the workspace with the pinned pnpm, so `npm run demo` and `npm test`
// work on a machine that has only Node and npm.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
const env = { ...process.env };
// Native addons (zstd-napi) compile against the headers of the running Node;
// pointing node-gyp at them avoids a download the network may not allow.
const nodedir = join(dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(join(nodedir, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodedir;
// prebuild-install would try to fetch a binary from outside the registry; build from source instead.
env.npm_config_build_from_source = 'true';

const lock = existsSync(join(root, 'pnpm-lock.yaml')) && !process.argv.includes('--update');
const args = ['--yes', pin, 'install', lock ? '--frozen-lockfile' : '--no-frozen-lockfile'];
const run = spawnSync('npx', args, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
if (run.status !== 0) {
  console.error(`laminate: "npx ${args.join(' ')}" failed (exit ${run.status}); see the output above.`);
  process.exit(run.status ?? 1);
}
