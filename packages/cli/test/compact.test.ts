/**
 * `laminate compact SPEC`, run for real: it gives back the space of deleted
 * values in a log() directory another process wrote, keeps every live value,
 * and refuses a stack with no log() store.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file, log } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../laminate/bin/laminate.mjs', import.meta.url));
const tempDir = tempDirs('laminate-cli-compact-', afterAll);

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

const segmentBytes = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.seg')).reduce((n, name) => n + statSync(join(dir, name)).size, 0);

describe('laminate compact', () => {
  it('gives back the space of deleted values in a log() directory and keeps the live ones', async () => {
    const dir = tempDir();
    const store = log(dir, { segmentBytes: 16 << 10, autoCompact: false });
    for (let i = 0; i < 100; i++) {
      await store.append({ keep: Buffer.from(`${i};`), junk: Buffer.alloc(2000, i) });
      await store.delete(['junk']);
    }
    await store.close();
    const before = segmentBytes(dir);
    expect(before).toBeGreaterThan(100 * 2000);
    const run = await laminate(['compact', `log(${dir})`]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain(dir);
    expect(run.out).toMatch(/\d+ segments removed/);
    expect(segmentBytes(dir)).toBeLessThan(before / 4);
    const again = log(dir);
    try {
      expect(Buffer.from(await again.get('keep')).toString()).toBe(Array.from({ length: 100 }, (_, i) => `${i};`).join(''));
      expect(await again.keys()).toEqual(['keep']);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('refuses a stack without a log() store: ERR_NOT_SUPPORTED, exit 1', async () => {
    const dir = tempDir();
    const store = file(dir);
    await store.append({ a: Buffer.from('x') });
    await store.close();
    const run = await laminate(['compact', `file(${dir})`]);
    expect(run.code).toBe(1);
    expect(run.err).toContain('ERR_NOT_SUPPORTED');
  }, 60_000);
});
