/**
 * `laminate tail`, run for real (the umbrella package's bin, from sources):
 * it prints what a key holds, with -f follows values that this test process
 * appends, and ends when the key is sealed.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file, msgpack } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../laminate/bin/laminate.mjs', import.meta.url));
const tempDir = tempDirs('laminate-tail-', afterAll);
const started: ChildProcessWithoutNullStreams[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function laminate(args: readonly string[]): { out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'pipe' });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  child.stdin.end();
  return { out: () => out, err: () => err, exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
}

async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('laminate tail', () => {
  it('-f prints each value as another process appends it, one JSON line per item, and ends when the key is sealed', async () => {
    const dir = tempDir();
    const store = msgpack(file(dir));
    await store.append({ k: [{ n: 0 }] });
    const tail = laminate(['tail', '-f', '--print-position', `msgpack(file(${join(dir)}))`, 'k']);
    await until(() => tail.out().includes('{"n":0}\n'));
    for (let n = 1; n <= 3; n++) {
      await store.append({ k: [{ n }] });
      // Printed as it lands, before the next append.
      await until(() => tail.out().includes(`{"n":${n}}\n`));
    }
    await store.seal('k');
    expect(await tail.exited).toBe(0);
    expect(tail.out()).toBe('{"n":0}\n{"n":1}\n{"n":2}\n{"n":3}\n');
    const position = Number(/position (\d+)/.exec(tail.err())![1]);
    await store.close();

    // Without -f, from that position: nothing more; from the start: everything, then it ends.
    const rest = laminate(['tail', '--from', String(position), `msgpack(file(${dir}))`, 'k']);
    expect(await rest.exited).toBe(0);
    expect(rest.out()).toBe('');
    const all = laminate(['tail', `file(${dir})`, 'k']);
    expect(await all.exited).toBe(0);
    // A stack of bytes: the key's stored bytes, byte for byte.
    expect(all.out()).toBe(readFileSync(join(dir, 'k'), 'utf8'));
  }, 120_000);

  it('refuses a --from that is not a position (exit status 2)', async () => {
    const run = laminate(['tail', '--from', 'middle', `file(${tempDir()})`, 'k']);
    expect(await run.exited).toBe(2);
    expect(run.err()).toMatch(/--from takes a position/);
  }, 60_000);
});
