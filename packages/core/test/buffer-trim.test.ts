/**
 * Retention through buffer(): the slow store keeps the consumers and the
 * key's start, so commit() and trim() first spill the key's bytes in memory
 * (the slow store checks positions against what it holds); a trim gives the
 * bytes it dropped from the disk back to maxDiskBytes; reads from before the
 * start are ERR_TRIMMED and positions stay absolute.
 */
import { describe, expect, it } from 'vitest';
import { buffer, dict } from '@laminate/core';
import { keyId } from '@laminate/core/layer';
import { rejection } from '@laminate/core/testing';

const text = (value: Uint8Array) => Buffer.from(value).toString();
const sortedKeys = async (store: { keys(): PromiseLike<unknown[]> }) => ((await store.keys()) as string[]).slice().sort();

describe('buffer(): commit, trim and the disk budget', () => {
  it('spills before commit and trim, gives trimmed bytes back to maxDiskBytes, and reads from the absolute start', async () => {
    const slow = dict();
    const store = buffer(dict(), slow, { availableMemory: 1000, maxDiskBytes: 40 });
    const k = keyId('k');
    await store.append({ k: Buffer.from('a'.repeat(10)) });
    await store.append({ k: Buffer.from('bbbbb'), o: Buffer.from('zz') });
    expect([store.memoryUsage, store.spilledBytes]).toEqual([17, 0]);

    // A consumer of a key nobody wrote: registered, and no key appears for it.
    await store.commit('never', 'c', 0);
    expect(await store.consumers('never')).toEqual([{ consumer: 'c', position: 0 }]);
    expect(await sortedKeys(store)).toEqual(['k', 'o']);
    expect(await slow.keys()).toEqual([]);

    // Position 12 is past what the slow store holds until the key's bytes in memory move there.
    await store.commit('k', 'c', 12);
    expect(await store.consumers('k')).toEqual([{ consumer: 'c', position: 12 }]);
    expect([store.memoryUsage, store.spilledBytes]).toEqual([2, 15]);
    expect(await slow.keys()).toEqual(['k']);

    // Trimmed to the lowest committed position: 12 of the 15 spilled bytes leave the disk.
    await store.trim('k');
    expect(await store.startOf('k')).toBe(12);
    expect(text(await store.get('k'))).toBe('bbb');
    expect(store.spilledBytes).toBe(3);
    const before = await rejection(store.readFollowedId(k, 11, 10));
    expect(before.code).toBe('ERR_TRIMMED');
    expect((before as { start?: number }).start).toBe(12);
    expect(text(await store.readFollowedId(k, 12, 2))).toBe('bb');
    expect(text(await store.readFollowedId(k, 13, 10))).toBe('bb');

    // A trim into the bytes still in memory: they are spilled first, then trimmed on disk.
    await store.forget('k', 'c');
    expect(await store.consumers('k')).toEqual([]);
    await store.append({ k: Buffer.from('ccccc') });
    expect(store.memoryUsage).toBe(7);
    await store.trim('k', 17);
    expect(await store.startOf('k')).toBe(17);
    expect(text(await store.get('k'))).toBe('ccc');
    expect([store.memoryUsage, store.spilledBytes]).toEqual([2, 3]);
    expect(text(await store.readFollowedId(k, 18, 10))).toBe('cc');

    // A spill past maxDiskBytes is refused before anything moves; a trim with nothing to spill is not.
    await store.append({ k: Buffer.from('d'.repeat(50)) });
    const refused = await rejection(store.trim('k', 18));
    expect(refused.code).toBe('ERR_DISK_FULL');
    expect(refused.message).toContain('trim() would spill 50 bytes of the key from memory');
    expect([store.memoryUsage, store.spilledBytes, await store.startOf('k')]).toEqual([52, 3, 17]);
    // So is a commit, which spills the key too: the consumer is not registered.
    const refusedCommit = await rejection(store.commit('k', 'late', 18));
    expect(refusedCommit.code).toBe('ERR_DISK_FULL');
    expect(refusedCommit.message).toContain('commit() would spill 50 bytes of the key from memory');
    expect([store.memoryUsage, store.spilledBytes, await store.consumers('k')]).toEqual([52, 3, []]);
    await store.trim('never');
    expect(await sortedKeys(store)).toEqual(['k', 'o']);

    // Deleting the key gives back what it still had on disk.
    await store.delete(['k']);
    expect([store.memoryUsage, store.spilledBytes]).toEqual([2, 0]);
    await store.close();
  });
});
