/**
 * Keeps the docs honest: every snippet in docs/guide.md, docs/typed-data.md,
 * docs/pool.md and docs/streams.md is a file under examples/guide/,
 * examples/guide-typed/, examples/pool/ or examples/streams/ (the page quotes it
 * whole, under a first line naming it), every such file runs with tsx and
 * exits 0, and what it prints matches the output block the page shows under
 * it, where `…` stands for any text (a temporary path). The shuffle demo runs
 * too, on a few records.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pages = [
  { doc: 'docs/guide.md', dir: 'examples/guide' },
  { doc: 'docs/typed-data.md', dir: 'examples/guide-typed' },
  { doc: 'docs/pool.md', dir: 'examples/pool' },
  { doc: 'docs/streams.md', dir: 'examples/streams' },
  { doc: 'docs/tables.md', dir: 'examples/tables' },
  { doc: 'docs/catalog.md', dir: 'examples/catalog' },
];

interface Snippet {
  file: string;
  code: string;
  output?: string;
}

/** The page's ```ts blocks whose first line is `// <dir>/<file>`, each with the ```text block right after it. */
function snippets(doc: string, dir: string): Map<string, Snippet> {
  const page = readFileSync(join(root, doc), 'utf8');
  const found = new Map<string, Snippet>();
  const prefix = dir.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  const block = new RegExp('```ts\\n// ' + prefix + '/([\\w.-]+\\.ts)\\n([\\s\\S]*?)```(?:\\s*```text\\n([\\s\\S]*?)```)?', 'g');
  for (const [, file, code, output] of page.matchAll(block)) {
    expect(found.has(file), `${file} is quoted twice in ${doc}`).toBe(false);
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

for (const { doc, dir } of pages) {
  describe(doc, () => {
    const files = readdirSync(join(root, dir)).filter((name) => name.endsWith('.ts')).sort();
    const quoted = snippets(doc, dir);

    it(`quotes every file under ${dir}, and nothing else`, () => {
      expect(files.length).toBeGreaterThan(0);
      expect([...quoted.keys()].sort()).toEqual(files);
    });

    for (const file of files) {
      it.concurrent(`${dir}/${file} is the snippet the page shows, and prints what it says`, async () => {
        const snippet = quoted.get(file);
        expect(snippet, `${doc} does not quote ${dir}/${file}`).toBeDefined();
        expect(snippet!.code, `${doc} and ${dir}/${file} differ`).toBe(readFileSync(join(root, dir, file), 'utf8'));
        expect(snippet!.output, `${doc} shows no output block after ${dir}/${file}`).toBeDefined();

        const result = await run(join(dir, file));
        expect(result.code, `${dir}/${file} exited with ${result.code}:\n${result.stderr}`).toBe(0);
        const actual = lines(result.stdout);
        const expected = lines(snippet!.output!);
        const mismatch = expected.findIndex((line, i) => !pattern(line).test(actual[i] ?? ''));
        if (mismatch >= 0 || actual.length !== expected.length) {
          // Show the whole output: the page's block can be refreshed from it.
          expect(actual.join('\n'), `${dir}/${file} printed something else than ${doc} shows (line ${mismatch + 1})`).toBe(expected.join('\n'));
        }
      }, 120_000);
    }
  });
}

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
