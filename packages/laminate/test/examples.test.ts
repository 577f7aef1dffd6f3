/**
 * Keeps docs/guide.md honest: every snippet in the guide is a file under
 * examples/guide/ (the guide quotes it whole, under a first line naming it),
 * every such file runs with tsx and exits 0, and what it prints matches the
 * output block the guide shows under it, where `…` stands for any text (a
 * temporary path). The shuffle demo runs too, on a few records.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const guideDir = join(root, 'examples', 'guide');
const guide = readFileSync(join(root, 'docs', 'guide.md'), 'utf8');

interface Snippet {
  file: string;
  code: string;
  output?: string;
}

/** The guide's ```ts blocks whose first line is `// examples/guide/<file>`, each with the ```text block right after it. */
function snippets(): Map<string, Snippet> {
  const found = new Map<string, Snippet>();
  const block = /```ts\n\/\/ examples\/guide\/([\w.-]+\.ts)\n([\s\S]*?)```(?:\s*```text\n([\s\S]*?)```)?/g;
  for (const [, file, code, output] of guide.matchAll(block)) {
    expect(found.has(file), `${file} is quoted twice in docs/guide.md`).toBe(false);
    found.set(file, { file, code, output });
  }
  return found;
}

/** Runs a TypeScript file with tsx, as the guide tells readers to. */
function run(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const bin = JSON.parse(readFileSync(manifest, 'utf8')).bin;
  const cli = join(dirname(manifest), typeof bin === 'string' ? bin : bin.tsx);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, '--conditions=source', file, ...args], {
      cwd: root,
      env: { ...process.env, ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (text: string) => text.replace(/\s+$/, '').split('\n').map((line) => line.trimEnd());
const pattern = (expected: string) => new RegExp(`^${expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

describe('docs/guide.md', () => {
  const files = readdirSync(guideDir).filter((name) => name.endsWith('.ts')).sort();
  const quoted = snippets();

  it('quotes every file under examples/guide, and nothing else', () => {
    expect(files.length).toBeGreaterThan(0);
    expect([...quoted.keys()].sort()).toEqual(files);
  });

  for (const file of files) {
    it.concurrent(`examples/guide/${file} is the snippet the guide shows, and prints what it says`, async () => {
      const snippet = quoted.get(file);
      expect(snippet, `docs/guide.md does not quote examples/guide/${file}`).toBeDefined();
      expect(snippet!.code, `docs/guide.md and examples/guide/${file} differ`).toBe(readFileSync(join(guideDir, file), 'utf8'));
      expect(snippet!.output, `docs/guide.md shows no output block after examples/guide/${file}`).toBeDefined();

      const result = await run(join('examples', 'guide', file));
      expect(result.code, `examples/guide/${file} exited with ${result.code}:\n${result.stderr}`).toBe(0);
      const actual = lines(result.stdout);
      const expected = lines(snippet!.output!);
      const mismatch = expected.findIndex((line, i) => !pattern(line).test(actual[i] ?? ''));
      if (mismatch >= 0 || actual.length !== expected.length) {
        // Show the whole output: the guide's block can be refreshed from it.
        expect(actual.join('\n'), `examples/guide/${file} printed something else than the guide shows (line ${mismatch + 1})`).toBe(expected.join('\n'));
      }
    }, 120_000);
  }
});

describe('examples/shuffle.ts', () => {
  it('shuffles, verifies and summarizes a small run, spilling to disk', async () => {
    const result = await run(join('examples', 'shuffle.ts'), ['--records', '30000', '--memory', '1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/verified\s+30,000 records in 256 partitions: counts and checksums match/);
    expect(result.stdout).toMatch(/spilled\s+[\d.]+ MB to disk, during \d+ of 2 appends/);
    for (const label of ['append', 'get', 'stored', 'on disk', 'peak RSS']) expect(result.stdout).toContain(label);
    // Not a terminal: a few progress lines, not a redraw per batch.
    expect(result.stderr.split('\n').filter((line) => line.includes('%')).length).toBeLessThanOrEqual(8);
  }, 120_000);

  it('fails loudly on a bad argument', async () => {
    const result = await run(join('examples', 'shuffle.ts'), ['--records', 'many']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--records');
  }, 120_000);
});
