/**
 * Keeps the "typedArrays" section of docs/typed-data.md honest: each
 * examples/guide-typed/typed-arrays*.ts is quoted whole under a first line
 * naming it, runs with tsx, and prints the output block shown under it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = join(root, 'examples', 'guide-typed');
const doc = readFileSync(join(root, 'docs', 'typed-data.md'), 'utf8');

function quoted(file: string): { code?: string; output?: string } {
  const block = /```ts\n\/\/ examples\/guide-typed\/([\w.-]+\.ts)\n([\s\S]*?)```\s*```text\n([\s\S]*?)```/g;
  for (const [, name, code, output] of doc.matchAll(block)) if (name === file) return { code, output };
  return {};
}

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const bin = JSON.parse(readFileSync(manifest, 'utf8')).bin;
  const cli = join(dirname(manifest), typeof bin === 'string' ? bin : bin.tsx);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, '--conditions=source', file], { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (text: string) => text.replace(/\s+$/, '').split('\n').map((line) => line.trimEnd());

describe('docs/typed-data.md: typedArrays', () => {
  const files = readdirSync(dir).filter((name) => name.startsWith('typed-arrays') && name.endsWith('.ts')).sort();

  it('has the typedArrays snippets', () => {
    expect(files).toEqual(['typed-arrays-datetime.ts', 'typed-arrays.ts']);
  });

  for (const file of files) {
    it.concurrent(`examples/guide-typed/${file} is quoted whole and prints what the page shows`, async () => {
      const { code, output } = quoted(file);
      expect(code, `docs/typed-data.md does not quote examples/guide-typed/${file} with its output`).toBeDefined();
      expect(code).toBe(readFileSync(join(dir, file), 'utf8'));
      const result = await run(join('examples', 'guide-typed', file));
      expect(result.code, result.stderr).toBe(0);
      expect(lines(result.stdout).join('\n')).toBe(lines(output!).join('\n'));
    }, 120_000);
  }
});
