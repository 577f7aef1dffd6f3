/**
 * buffer()'s counts, checked against what its stores really hold and are
 * asked for: per-key bytes over a fast store that is not a dict() (buffer()
 * counts them itself there), the exact edges of maxDiskBytes and of a spill's
 * share of memory, what a spill and a flush hand to the slow store, closing
 * over a temporary slow store, and describe() leaving unset options out.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buffer, dict, file } from '@laminate/core';
import { keyId } from '@laminate/core/layer';
import { rejection } from '@laminate/core/testing';
import { MapStore, RecordingDict } from './fixtures/recording-stores.js';

const bytes = (fill: number, n: number) => Buffer.alloc(n, fill);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const sortedKeys = async (store: { keys(): PromiseLike<unknown[]> }) => ((await store.keys()) as string[]).slice().sort();

describe('buffer() over a fast store that is not a dict(): per-key counts', () => {
  it('memoryUsage stays what the fast store really holds, and the largest key is the one spilled', async () => {
    const fast = new MapStore();
    const slow = dict();
    const store = buffer(fast, slow, { availableMemory: 100 });
    await store.append({ a: bytes(1, 40), b: bytes(2, 30) });
    expect([store.memoryUsage, fast.heldBytes]).toEqual([70, 70]);

    // a holds 60 now, b 30, c 25: 115 bytes, over budget. a is the largest key and goes.
    await store.append({ a: bytes(3, 20), c: bytes(4, 25) });
    expect(await slow.keys()).toEqual(['a']);
    expect([store.memoryUsage, fast.heldBytes]).toEqual([55, 55]);
    expect(store.spilledBytes).toBe(60);
    expect(same(await store.get('a'), Buffer.concat([bytes(1, 40), bytes(3, 20)]))).toBe(true);

    await store.delete(['b']);
    expect([store.memoryUsage, fast.heldBytes]).toEqual([25, 25]);
    expect(same(await store.pop('c'), bytes(4, 25))).toBe(true);
    expect([store.memoryUsage, fast.heldBytes]).toEqual([0, 0]);

    await store.append({ d: bytes(5, 10), a: bytes(6, 5) });
    expect([store.memoryUsage, fast.heldBytes]).toEqual([15, 15]);
    await store.flush();
    expect([store.memoryUsage, fast.heldBytes]).toEqual([0, 0]);
    expect(await sortedKeys(slow)).toEqual(['a', 'd']);
    expect(store.spilledBytes).toBe(75);
    expect(same(await store.get('a'), Buffer.concat([bytes(1, 40), bytes(3, 20), bytes(6, 5)]))).toBe(true);

    await store.append({ e: bytes(7, 8) });
    await store.drop();
    expect([store.memoryUsage, store.spilledBytes, fast.heldBytes]).toEqual([0, 0, 0]);
    await store.close();
  });

  it('spills a key grown by many appends by its whole size, not by its last value', async () => {
    const fast = new MapStore();
    const store = buffer(fast, dict(), { availableMemory: 50, maxSpillKeys: 1 });
    for (let i = 0; i < 9; i++) await store.append({ grows: bytes(i, 5) });
    await store.append({ small: bytes(9, 10) });
    // grows (45) and small (10): 55 bytes; grows moves, as a whole.
    expect(store.spilledBytes).toBe(45);
    expect([store.memoryUsage, fast.heldBytes]).toEqual([10, 10]);
    await store.close();
  });
});

describe('buffer(): maxDiskBytes at its exact edge', () => {
  it('takes an append whose spill fills the slow store to exactly maxDiskBytes, and refuses the next byte', async () => {
    const slow = dict();
    const store = buffer(dict(), slow, { availableMemory: 50, maxDiskBytes: 60, maxSpillKeys: 1 });
    // 110 bytes: a (60) spills, which leaves exactly availableMemory (50) held: no second round.
    await store.append({ a: bytes(1, 60), b: bytes(2, 50) });
    expect([store.spilledBytes, store.memoryUsage]).toEqual([60, 50]);
    expect(await slow.keys()).toEqual(['a']);

    // One byte more would spill b (50 bytes): past the limit.
    const refused = await rejection(store.append({ c: bytes(3, 1) }));
    expect(refused.code).toBe('ERR_DISK_FULL');
    expect(refused.message).toContain('would spill 50 bytes, past maxDiskBytes (60 bytes; 60 already spilled');
    expect(await sortedKeys(store)).toEqual(['a', 'b']);
    expect([store.spilledBytes, store.memoryUsage]).toEqual([60, 50]);
    await store.delete(['b']);
    await store.close();
  });
});

describe('buffer(): how much one spill takes', () => {
  it('stops at the key that brings the spill to exactly its share of memory', async () => {
    const slow = dict();
    const store = buffer(dict(), slow, { availableMemory: 199, spillFraction: 0.5 });
    // 200 bytes held: the share is 100, which a alone makes.
    await store.append({ a: bytes(1, 100), b: bytes(2, 60), c: bytes(3, 40) });
    expect(await slow.keys()).toEqual(['a']);
    expect(store.memoryUsage).toBe(100);
    await store.close();
  });
});

describe('buffer(): what reaches the slow store', () => {
  it('a spill hands the bytes over with transfer: true (the fast store lets go of them)', async () => {
    const slow = new RecordingDict();
    const store = buffer(dict(), slow, { availableMemory: 10 });
    await store.append({ a: bytes(1, 20) });
    expect(slow.appends).toEqual([{ ids: [keyId('a')], opts: { transfer: true } }]);
    expect(same(await store.get('a'), bytes(1, 20))).toBe(true);
    await store.close();
  });

  it('flush() and close() with nothing in memory write nothing to the slow store', async () => {
    const slow = new RecordingDict();
    const store = buffer(dict(), slow, { availableMemory: 1000 });
    await store.flush();
    await store.append({ a: bytes(1, 5) });
    await store.flush();
    expect(slow.appends.length).toBe(1);
    await store.flush();
    await store.close();
    expect(slow.appends.length).toBe(1);
  });

  it('names itself in the error for a value that is not bytes', async () => {
    const store = buffer(dict(), dict(), { availableMemory: 10 });
    const error = await rejection(store.append({ a: 'text' as never }));
    expect(error.code).toBe('ERR_VALUE_TYPE');
    expect(error.message).toMatch(/^buffer\(\) stores Uint8Array values/);
    await store.close();
  });
});

describe('buffer(): closing over a temporary slow store', () => {
  it('closes without spilling, even when memory holds more than maxDiskBytes, and the temporary directory goes', async () => {
    const slow = file();
    const store = buffer(dict(), slow, { availableMemory: 1000, maxDiskBytes: 10 });
    await store.append({ a: bytes(1, 100) });
    // A flush would pass maxDiskBytes; close() has nothing to keep and does not try.
    expect((await rejection(store.flush())).code).toBe('ERR_DISK_FULL');
    await store.close();
    expect(existsSync(slow.path)).toBe(false);
  });
});

describe('buffer(): describe()', () => {
  it('has no maxDiskBytes entry at all when none was set', () => {
    const spec = buffer(dict(), dict(), { availableMemory: 5 }).describe();
    expect(Object.keys(spec).sort()).toEqual(['availableMemory', 'fast', 'slow', 'type']);
  });
});
