import { describe, expect, it } from 'vitest';
import { buffer, dict, file, msgpack } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-ownership-');

describe('who owns appended bytes', () => {
  it('dict() keeps a transferred buffer itself: no copy', async () => {
    const store = dict();
    const owned = Buffer.from('handed over');
    await store.append({ k: owned }, { transfer: true });
    const got = await store.get('k');
    expect(got.buffer).toBe(owned.buffer);
    expect(got.byteOffset).toBe(owned.byteOffset);
  });

  it('buffer(dict(), file()) passes transfer down to its fast store', async () => {
    const store = buffer(dict(), file(tempDir()), { availableMemory: 1 << 20 });
    const owned = new Uint8Array(2000).fill(7);
    await store.append([['k', owned]], { transfer: true });
    expect((await store.get('k')).buffer).toBe(owned.buffer);
    await store.close();
  });

  it('a default append survives the caller overwriting its buffer, small and large values', async () => {
    for (const store of [dict(), buffer(dict(), file(tempDir()), { availableMemory: 1 << 20 })]) {
      const small = Buffer.from('small value');
      const large = Buffer.alloc(5000, 'L');
      await store.append({ s: small, l: large });
      small.fill(0);
      large.fill(0);
      expect(String(await store.get('s'))).toBe('small value');
      expect((await store.get('l')).every((byte) => byte === 'L'.charCodeAt(0))).toBe(true);
      await store.close();
    }
  });

  it('encoding layers transfer the frames they build, and values read back intact', async () => {
    const inner = dict();
    const seen: unknown[] = [];
    const appendIds = inner.appendIds.bind(inner);
    inner.appendIds = (ids, values, opts) => {
      seen.push(opts?.transfer);
      return appendIds(ids, values, opts);
    };
    const store = msgpack(inner);
    await store.append({ r: [{ a: 1 }] });
    await store.append({ r: [{ b: 2 }] });
    expect(seen).toEqual([true, true]);
    expect(await store.get('r')).toEqual([{ a: 1 }, { b: 2 }]);
  });
});

describe('buffer(): gets skip the slow store for keys it holds nothing of, yet see what is there', () => {
  it('reads a key another store appended to the slow directory directly, before what memory holds', async () => {
    const dir = tempDir();
    const store = buffer(dict(), file(dir), { availableMemory: 1 << 20 });
    await store.append({ k: Buffer.from('memory') });
    expect(String(await store.get('never'))).toBe('');
    const other = file(dir);
    await other.append({ k: Buffer.from('disk:'), never: Buffer.from('there') });
    await other.close();
    expect(String(await store.get('k'))).toBe('disk:memory');
    expect(String(await store.get('never'))).toBe('there');
    await store.close();
  });
});
