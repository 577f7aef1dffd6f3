/**
 * buffer()'s maxDiskBytes holds for every way bytes reach the slow store
 * (append's spills, flush(), close()), and options that are not numbers are
 * refused instead of read as "no limit".
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buffer, dict, file } from '@laminate/core';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-buffer-limits-');

describe('buffer(): maxDiskBytes', () => {
  it('flush() and close() refuse to spill past it, move nothing and leave the store open', async () => {
    const dir = tempDir();
    const store = buffer(dict(), file(dir), { availableMemory: 10_000, maxDiskBytes: 100 });
    await store.append({ a: Buffer.alloc(300, 1), b: Buffer.alloc(50, 2) });
    const flushed = await rejection(store.flush());
    expect(flushed.code).toBe('ERR_DISK_FULL');
    expect(flushed.message).toContain('flush() would spill the 350 bytes in memory, past maxDiskBytes (100 bytes');
    expect(readdirSync(dir).filter((name) => !name.startsWith('.'))).toEqual([]);
    const closing = await rejection(store.close());
    expect(closing.code).toBe('ERR_DISK_FULL');
    expect(closing.message).toContain('close() would spill');
    // Still open, nothing lost: what fits can be closed once the rest is gone.
    expect(Buffer.from(await store.get('a')).equals(Buffer.alloc(300, 1))).toBe(true);
    await store.delete(['a']);
    await store.close();
    const again = file(dir);
    expect(await again.keys()).toEqual(['b']);
    expect(Buffer.from(await again.get('b')).equals(Buffer.alloc(50, 2))).toBe(true);
    await again.close();
  });

  it('refuses options that are not numbers, or out of range, with ERR_INVALID_OPTION', () => {
    const bad: Record<string, unknown>[] = [
      { maxDiskBytes: Number.NaN },
      { maxDiskBytes: 'abc' },
      { maxDiskBytes: -1 },
      { spillFraction: 0 },
      { spillFraction: 1.5 },
      { spillFraction: '0.1' },
      { maxSpillKeys: 0 },
      { maxSpillKeys: 2.5 },
    ];
    for (const opts of bad) {
      const error = thrown(() => buffer(dict(), dict(), { availableMemory: 1000, ...opts } as never));
      expect(error.code, JSON.stringify(opts)).toBe('ERR_INVALID_OPTION');
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain(Object.keys(opts)[0]);
    }
    expect(buffer(dict(), dict(), { availableMemory: 1000, maxDiskBytes: Number.POSITIVE_INFINITY }).describe().maxDiskBytes).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('buffer(): drop', () => {
  it('keeps what memory holds when the slow store refuses to drop', async () => {
    const dir = tempDir();
    const store = buffer(dict(), file(dir), { availableMemory: 10_000 });
    await store.append({ spilled: Buffer.from('on disk') });
    await store.flush();
    await store.append({ held: Buffer.from('in memory') });
    writeFileSync(join(dir, 'notes.txt.bak~'), 'not the store\'s');
    expect((await rejection(store.drop())).code).toBe('ERR_FOREIGN_FILES');
    expect(Buffer.from(await store.get('held')).toString()).toBe('in memory');
    expect(Buffer.from(await store.get('spilled')).toString()).toBe('on disk');
    await store.close();
  });
});
