/**
 * buffer(dict(), file())'s gets of keys whose bytes lie partly on disk (spilled)
 * and partly in memory: read into one buffer sized for both. What is checked:
 * the bytes and their order, and that the result is the caller's own memory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buffer, dict, file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-buffer-reads-test-', afterAll);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('buffer(dict(), file()) gets across a spill', () => {
  it('a key spilled and then appended to again reads back whole and in order; keys only on disk or only in memory too', async () => {
    const dir = tempDir();
    const store = buffer(dict(), file(dir), { availableMemory: 1000, spillFraction: 1 });
    await store.append({ mixed: Buffer.from('A'.repeat(600)), disk: Buffer.from('D'.repeat(500)) });
    // Past the budget: everything held moves to disk.
    expect(store.memoryUsage).toBe(0);
    await store.append({ mixed: Buffer.from('b'.repeat(50)), memory: Buffer.from('m'.repeat(10)) });
    expect(store.memoryUsage).toBe(60);

    const [mixed, disk, memory, missing] = await store.getMany(['mixed', 'disk', 'memory', 'missing']);
    expect(text(mixed)).toBe('A'.repeat(600) + 'b'.repeat(50));
    expect(text(disk)).toBe('D'.repeat(500));
    expect(text(memory)).toBe('m'.repeat(10));
    expect(missing.byteLength).toBe(0);

    // The joined key is the caller's: changing it changes nothing stored.
    mixed.fill(0);
    expect(text(await store.get('mixed'))).toBe('A'.repeat(600) + 'b'.repeat(50));

    // More bytes in memory after a read, then another read: still whole and in order.
    await store.append({ mixed: Buffer.from('c'.repeat(5)) });
    expect(text(await store.get('mixed'))).toBe('A'.repeat(600) + 'b'.repeat(50) + 'c'.repeat(5));
    await store.close();

    // Reopened, everything was spilled on close.
    const again = buffer(dict(), file(dir), { availableMemory: 1000 });
    expect(text(await again.get('mixed'))).toBe('A'.repeat(600) + 'b'.repeat(50) + 'c'.repeat(5));
    expect(text(await again.get('memory'))).toBe('m'.repeat(10));
    await again.close();
  });
});
