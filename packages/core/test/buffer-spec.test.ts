// buffer()'s description and manifest: describe() + open(spec) must rebuild the same spill policy
// in a worker or the CLI (a lost option there silently changes when and how much spills), and
// supports says what survives reopening and whether iter() keeps chunks.
import { describe, expect, it } from 'vitest';
import { buffer, dict, file, formatSpec, open, parseSpec } from '@laminate/core';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-buffer-spec-');

describe('buffer(): describe() and open(spec)', () => {
  it('writes every option that is not the default, and open() rebuilds the same stack from it', async () => {
    const dir = tempDir();
    const store = buffer(dict(), file(dir), { availableMemory: 1000, maxDiskBytes: 5000, spillFraction: 0.5, maxSpillKeys: 3 });
    const spec = store.describe();
    expect(spec).toEqual({ type: 'buffer', fast: { type: 'dict' }, slow: file(dir).describe(), availableMemory: 1000, maxDiskBytes: 5000, spillFraction: 0.5, maxSpillKeys: 3 });
    const again = open(spec);
    expect(again.describe()).toEqual(spec);
    // The short string form carries the same.
    expect(open(parseSpec(formatSpec(spec))).describe()).toEqual(spec);
    await again.close();
    await store.close();
  });

  it('leaves the defaults out: no maxDiskBytes, spillFraction 0.1, maxSpillKeys 128', async () => {
    const store = buffer(dict(), dict(), { availableMemory: 0, spillFraction: 0.1, maxSpillKeys: 128 });
    expect(store.describe()).toEqual({ type: 'buffer', fast: { type: 'dict' }, slow: { type: 'dict' }, availableMemory: 0 });
    await store.close();
  });

  it('rebuilds a policy that spills as the original did', async () => {
    const spec = buffer(dict(), dict(), { availableMemory: 100, maxSpillKeys: 1, spillFraction: 1 }).describe();
    const store = open(spec) as ReturnType<typeof buffer>;
    await store.append({ a: Buffer.alloc(60), b: Buffer.alloc(50), c: Buffer.alloc(10) });
    // Over 100 bytes held: one key a spill (maxSpillKeys 1), the largest, until memory fits.
    expect(store.memoryUsage).toBe(60);
    expect(store.spilledBytes).toBe(60);
    await store.close();
  });
});

describe('buffer(): options', () => {
  it.each([
    [undefined, /needs availableMemory: the bytes to hold in memory/],
    [{}, /needs availableMemory/],
    [{ availableMemory: -1 }, /needs availableMemory/],
    [{ availableMemory: '100' }, /needs availableMemory/],
    [{ availableMemory: 10, maxDiskBytes: -1 }, /maxDiskBytes must be a number of bytes, 0 or more/],
    [{ availableMemory: 10, maxDiskBytes: '5' }, /maxDiskBytes must be a number of bytes, 0 or more.*got 5\./],
    [{ availableMemory: 10, spillFraction: 0 }, /spillFraction must be a share of memory above 0 and at most 1.*got 0\./],
    [{ availableMemory: 10, maxSpillKeys: 0 }, /maxSpillKeys must be a whole number, 1 or more; got 0\./],
    [{ availableMemory: 10, maxSpillKeys: 1.5 }, /maxSpillKeys must be a whole number/],
  ])('refuses %j with ERR_INVALID_OPTION and a message that says what to pass', (opts, message) => {
    const error = thrown(() => buffer(dict(), dict(), opts as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toMatch(message);
  });

  it('takes the edges: no memory and no disk (an empty value fits; one byte is ERR_DISK_FULL and stores nothing)', async () => {
    const store = buffer(dict(), dict(), { availableMemory: 0, maxDiskBytes: 0, maxSpillKeys: 1, spillFraction: 1 });
    await store.append({ a: Buffer.alloc(0) });
    expect((await rejection(store.append({ a: Buffer.from('x') }))).code).toBe('ERR_DISK_FULL');
    expect(Buffer.from(await store.get('a')).byteLength).toBe(0);
    expect([store.memoryUsage, store.spilledBytes]).toEqual([0, 0]);
    await store.close();
  });
});

describe('buffer(): supports', () => {
  it('reopens as its slow store does, and keeps chunks only where both stores do', async () => {
    expect(buffer(dict(), dict(), { availableMemory: 1 }).supports).toEqual({ reopen: false, iterChunks: true });
    expect(buffer(dict(), file(tempDir()), { availableMemory: 1 }).supports).toEqual({ reopen: true, iterChunks: false });
    expect(buffer(file(tempDir()), dict(), { availableMemory: 1 }).supports).toEqual({ reopen: false, iterChunks: false });
  });
});
