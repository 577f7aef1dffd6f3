// readRanges() on the bytes stores, and msgpack({ records: true }) frames that
// read on their own, in another process.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buffer, dict, file, isLaminateError, msgpack, zstd } from '@laminate/core';
import { type BytesStore, readRangeIds } from '@laminate/core/layer';
import { rejection, tempDirs } from '@laminate/core/testing';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tempDir = tempDirs('laminate-ranges-');

const bytes = (text: string) => Buffer.from(text);
const text = (values: Uint8Array[]) => values.map((v) => Buffer.from(v).toString());

const stacks: Record<string, () => BytesStore> = {
  dict: () => dict(),
  file: () => file(tempDir()),
  'buffer(dict, file), in memory': () => buffer(dict(), file(tempDir()), { availableMemory: 1 << 20 }),
  'buffer(dict, file), spilled': () => buffer(dict(), file(tempDir()), { availableMemory: 0 }),
};

describe('readRanges', () => {
  for (const [name, make] of Object.entries(stacks)) {
    it(`${name}: parts of keys, cut short at the end, empty past it and for missing keys`, async () => {
      const store = make();
      await store.append({ a: bytes('hello '), b: bytes('0123456789') });
      await store.append({ a: bytes('world') });
      const got = await store.readRanges([
        { key: 'a', offset: 0, length: 5 },
        { key: 'b', offset: 3, length: 4 },
        { key: 'a', offset: 6, length: 100 },
        { key: 'a', offset: 2, length: Infinity },
        { key: 'a', offset: 11, length: 3 },
        { key: 'missing', offset: 0, length: 3 },
        { key: ['t', 1], offset: 0, length: 1 },
      ]);
      expect(text(got)).toEqual(['hello', '3456', 'world', 'llo world', '', '', '']);
      await store.close();
    });
  }

  it('buffer(): a key partly spilled and partly in memory reads across both parts', async () => {
    const slow = file(tempDir());
    const store = buffer(dict(), slow, { availableMemory: 8 });
    await store.append({ k: bytes('0123456789') }); // over the budget: spilled
    await store.append({ k: bytes('abc') }); // held in memory
    expect(text(await store.readRanges([{ key: 'k', offset: 8, length: 4 }]))).toEqual(['89ab']);
    expect(text(await readRangeIds(store, [{ id: 'k', offset: 0, length: 2 }]))).toEqual(['01']);
    await store.close();
  });

  it('through a compression layer, readRangeIds slices the decoded value', async () => {
    const store = zstd(dict());
    await store.append({ k: bytes('compressed text') });
    expect(text(await readRangeIds(store, [{ id: 'k', offset: 11, length: 4 }]))).toEqual(['text']);
    await store.close();
  });

  it('refuses offsets and lengths that are not whole numbers', async () => {
    const store = dict();
    for (const bad of [{ key: 'a', offset: -1, length: 1 }, { key: 'a', offset: 0.5, length: 1 }, { key: 'a', offset: 0, length: NaN }]) {
      const error = await rejection(store.readRanges([bad]));
      expect(isLaminateError(error, 'ERR_INVALID_OPTION')).toBe(true);
    }
    await store.close();
  });
});

describe('msgpack({ records: true })', () => {
  it('every frame reads on its own in a new process, not only the first one a store wrote', async () => {
    const dir = tempDir();
    const store = msgpack(file(dir), { records: true });
    await store.append({ log: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }] });
    await store.append({ log: [{ id: 3, name: 'c' }] });
    await store.append({ log: [{ other: true, id: 4 }, { id: 5, name: 'e' }] });
    await store.close();
    // 'tail' holds the second and third frames without the first, as a reader
    // that starts mid-key (a range read, a key cut back) sees them.
    const raw = file(dir);
    const whole = Buffer.from(await raw.get('log'));
    await raw.append({ tail: whole.subarray(8 + Number(whole.readBigUInt64LE(0))) });
    await raw.close();
    const script = `import { file, msgpack } from '@laminate/core';
const store = msgpack(file(process.argv[1]), { records: true });
const frames = [];
for await (const frame of store.iter('tail')) frames.push(frame);
console.log(JSON.stringify(frames));
await store.close();`;
    const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script, dir], { cwd: join(ROOT, 'packages', 'core'), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([[{ id: 3, name: 'c' }], [{ other: true, id: 4 }, { id: 5, name: 'e' }]]);
  });
});
