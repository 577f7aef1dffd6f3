/**
 * laminate as a user gets it: the packages are built and packed, a project in
 * a temporary directory outside the workspace installs the tarballs with npm,
 * and plain `node` (no loader, no source condition) runs a program, the
 * consumer's `tsc` checks its TypeScript against the shipped declarations, and
 * the installed `laminate` bin lists what the program wrote.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from 'laminate/testing';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/consumer/', import.meta.url));
const INSTALL_TIMEOUT = 15 * 60_000;
// Each step runs real processes (two full tsc runs, the bin twice): minutes on a loaded machine.
const STEP_TIMEOUT = 5 * 60_000;

// The consumer's environment: nothing of the workspace's loaders or conditions leaks into it.
const env = { ...process.env };
for (const name of Object.keys(env)) if (name === 'NODE_OPTIONS' || name.startsWith('VITEST') || name.startsWith('npm_')) delete env[name];

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real process (asynchronously: the test worker must keep answering vitest meanwhile). */
function sh(command: string, args: string[], cwd: string, timeout = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, timeout, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function ok(running: Promise<Ran>, what: string): Promise<string> {
  const run = await running;
  if (run.status !== 0) throw new Error(`${what} exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

describe('the packed packages in a fresh project, under plain node', () => {
  let work: string;
  let project: string;
  let tarballs: string[];
  const workDir = tempDirs('laminate-consumer-', afterAll);

  beforeAll(async () => {
    work = workDir();
    project = join(work, 'app');
    const packs = join(work, 'packs');
    const packed = await ok(sh(process.execPath, [join(root, 'scripts/pack.mjs'), '--no-clean', '--out', packs], root, 5 * 60_000), 'npm run pack');
    tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz')).map((f) => join(packs, f));
    console.log(`packed:\n${packed}`);

    cpSync(fixtures, project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'laminate-consumer', private: true, type: 'module' }, null, 2));
    const typescript = JSON.parse(readFileSync(join(root, 'node_modules/typescript/package.json'), 'utf8')).version;
    const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', ...tarballs, `typescript@${typescript}`, '@types/node@20'];
    await ok(sh('npm', args, project, INSTALL_TIMEOUT), 'npm install of the tarballs');
  }, INSTALL_TIMEOUT);

  it('packs one tarball per package, with dist/ and no tests, fixtures or workspace: ranges', async () => {
    const names = tarballs.map((t) => t.slice(t.lastIndexOf('/') + 1)).sort();
    // One tarball for every package in packages/, named as npm names a scoped package's pack.
    const expected = readdirSync(join(root, 'packages'))
      .map((dir) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { name: string; version: string })
      .map(({ name, version }) => `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
    expect(names).toEqual(expected.sort());
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const tarball of tarballs) {
      const files = (await ok(sh('tar', ['tzf', tarball], root), 'tar')).trim().split('\n');
      expect(files).toContain('package/package.json');
      expect(files).toContain('package/README.md');
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/dist/index.d.ts');
      expect(files.filter((f) => /\/(test|fixtures)\/|\.test\.|tsbuildinfo/.test(f)), tarball).toEqual([]);
      const manifest = await ok(sh('tar', ['xzfO', tarball, 'package/package.json'], root), 'tar');
      expect(manifest, tarball).not.toContain('workspace:');
      // The in-repo "source" condition stays in the repository: installed code resolves to dist/.
      expect(JSON.parse(manifest).exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    }
  }, STEP_TIMEOUT);

  it('runs msgpack(lz4(buffer(dict(), file()))) and zstd(file()) round trips with plain node', async () => {
    const run = await sh(process.execPath, ['roundtrip.mjs', join(work, 'stores')], project);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('ok: 200 records, zstd(file) round trip\n');
    // The program resolved laminate inside the project, from the tarball, not from the workspace.
    const resolved = await ok(sh(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('laminate'))"], project), 'resolve');
    expect(resolved.trim()).toBe(`file://${project}/node_modules/laminate/dist/index.js`);
  }, STEP_TIMEOUT);

  it("passes the consumer's strict NodeNext tsc, and its tsc catches a wrong type", async () => {
    const tsc = join(project, 'node_modules/typescript/bin/tsc');
    const good = await sh(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    expect(good.stdout + good.stderr).toBe('');
    expect(good.status).toBe(0);
    // The declarations carry real types: msgpack<Order>().get() is Order[], so assigning it to a string fails.
    const bad = await sh(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', 'false', '--types', 'node', 'mistyped.ts'], project);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toMatch(/mistyped\.ts\(\d+,\d+\): error TS2322: Type '\w+\[\]' is not assignable to type 'string'/);
  }, STEP_TIMEOUT);

  it('has a laminate bin that runs without tsx and lists the keys just written', async () => {
    const bin = join(project, 'node_modules/.bin/laminate');
    expect(existsSync(join(project, 'node_modules/tsx'))).toBe(false);
    const help = await sh(bin, ['--help'], project);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^laminate 0\.1\.0: /);
    expect(help.stdout).toContain('keys');
    const bytes = join(work, 'stores', 'bytes');
    if (!existsSync(bytes)) await ok(sh(process.execPath, ['roundtrip.mjs', join(work, 'stores')], project), 'roundtrip.mjs');
    const keys = await sh(bin, ['keys', `file(${bytes})`], project);
    expect(keys.stderr).toBe('');
    expect(keys.status).toBe(0);
    expect(keys.stdout).toBe('alpha\nbeta\n');
    const cat = await sh(bin, ['cat', `zstd(file(${bytes}))`, 'alpha'], project);
    expect(cat.status).toBe(0);
    expect(cat.stdout).toBe('hello world');
  }, STEP_TIMEOUT);
});
