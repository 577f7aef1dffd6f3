/**
 * `laminate trim SPEC KEY [POSITION]`, run for real: it trims a key another
 * process wrote to what its consumers committed (or to a position), keeps the
 * later values readable, and refuses to drop what a consumer has not passed.
 * `laminate tail --consumer NAME --commit` resumes and commits as a consumer.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { file, msgpack } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../laminate/bin/laminate.mjs', import.meta.url));
const tempDir = tempDirs('laminate-cli-trim-', afterAll);

function laminate(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

describe('laminate trim', () => {
  it("trims a key to its consumers' lowest committed position, then to a position; refuses one past a consumer", async () => {
    const dir = tempDir();
    const disk = file(dir);
    const store = msgpack(disk);
    const positions: number[] = [];
    for (let i = 0; i < 5; i++) await store.append({ clicks: [i] });
    for await (const { position } of store.follow('clicks', { idleTimeoutMs: 50 }).entries()) positions.push(position);
    await store.commit('clicks', 'a', positions[1]);
    await store.commit('clicks', 'b', positions[3]);
    const length = positions[4];
    await store.close();

    const run = await laminate(['trim', `msgpack(file(${dir}))`, 'clicks']);
    expect(run.code).toBe(0);
    expect(run.out).toBe(`start 0 → ${positions[1]}\na\t${positions[1]}\nb\t${positions[3]}\n`);
    expect(statSync(disk.fileOf('clicks')).size).toBe(length - positions[1]);

    const refused = await laminate(['trim', `file(${dir})`, 'clicks', String(positions[2])]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('ERR_INVALID_OPTION');
    expect(refused.err).toContain(`"a" at ${positions[1]}`);

    const again = msgpack(file(dir));
    try {
      await again.forget('clicks', 'a');
      const moved = await laminate(['trim', `file(${dir})`, 'clicks', String(positions[2])]);
      expect(moved.code).toBe(0);
      expect(moved.out).toBe(`start ${positions[1]} → ${positions[2]}\nb\t${positions[3]}\n`);
      expect(await again.get('clicks')).toEqual([3, 4]);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('tail --consumer NAME --commit prints from where the consumer committed and commits after each value; --commit alone is a usage error', async () => {
    const dir = tempDir();
    const store = msgpack(file(dir));
    try {
      for (let i = 0; i < 3; i++) await store.append({ k: [{ i }] });
      const first = await laminate(['tail', '--consumer', 'cli', '--commit', `msgpack(file(${dir}))`, 'k']);
      expect(first.code).toBe(0);
      expect(first.out).toBe('{"i":0}\n{"i":1}\n{"i":2}\n');
      const [{ position }] = await store.consumers('k');
      expect(position).toBe(await (store.inner as ReturnType<typeof file>).lengthId('k'));
      await store.append({ k: [{ i: 3 }] });
      const next = await laminate(['tail', '--consumer', 'cli', '--commit', `msgpack(file(${dir}))`, 'k']);
      expect(next.out).toBe('{"i":3}\n');
      // Without --commit it still starts where the consumer committed: nothing new there.
      const peek = await laminate(['tail', '--consumer', 'cli', `msgpack(file(${dir}))`, 'k']);
      expect(peek.out).toBe('');
      const bare = await laminate(['tail', '--commit', `msgpack(file(${dir}))`, 'k']);
      expect(bare.code).toBe(2);
      expect(bare.err).toContain('--consumer NAME');
    } finally {
      await store.close();
    }
  }, 60_000);
});
