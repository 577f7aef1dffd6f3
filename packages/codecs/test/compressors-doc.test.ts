/**
 * Keeps the "Compressors" section of docs/typed-data.md honest:
 * examples/guide-typed/compressors.ts is quoted whole under a first line
 * naming it, runs with tsx, and prints the output block shown under it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const FILE = 'compressors.ts';

it(`docs/typed-data.md quotes examples/guide-typed/${FILE} whole, and it prints what the page shows`, () => {
  const doc = readFileSync(join(root, 'docs', 'typed-data.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Compressors'));
  const match = /```ts\n\/\/ examples\/guide-typed\/compressors\.ts\n([\s\S]*?)```\s*```text\n([\s\S]*?)```/.exec(section);
  expect(match, 'the Compressors section quotes the example with its output').not.toBeNull();
  const [, code, output] = match!;
  expect(code).toBe(readFileSync(join(root, 'examples', 'guide-typed', FILE), 'utf8'));

  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const bin = JSON.parse(readFileSync(manifest, 'utf8')).bin;
  const cli = join(dirname(manifest), typeof bin === 'string' ? bin : bin.tsx);
  const run = spawnSync(process.execPath, [cli, '--conditions=source', join('examples', 'guide-typed', FILE)], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  expect(run.status, run.stderr).toBe(0);
  const lines = (text: string) => text.replace(/\s+$/, '').split('\n').map((line) => line.trimEnd()).join('\n');
  expect(lines(run.stdout)).toBe(lines(output));
}, 120_000);
