import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Store, buffer, dict, file, log } from '@laminate/core';
import { rejection, seededRandom, tempDirs } from '@laminate/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fixture, spawnFixture } from '../../core/test/fixtures/spawn.js';
import { cas, catalog, sha256 } from '../src/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const tempDir = tempDirs('laminate-cas-test-', afterAll);
const stores: Store<Uint8Array>[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const store of stores) await store.close().catch(() => undefined);
});

function opened<S extends Store<Uint8Array>>(store: S): S {
  stores.push(store);
  return store;
}

/** Deterministic bytes that differ for each seed. */
function bytes(size: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) out.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return out;
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<{ chunks: number; bytes: Buffer }> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return { chunks: chunks.length, bytes: Buffer.concat(chunks) };
}

/** The files under `dir`, recursively, as paths relative to it. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((name) => fs.statSync(join(dir, name)).isFile());
}

/** Where file() keeps the keys ['cas', 'data', …] and ['cas', 'object', …]: a folder per tuple part, marked %d. */
const dataDir = (dir: string, ...rest: string[]) => join(dir, 'cas%d', 'data%d', ...rest);
const objectDir = (dir: string, ...rest: string[]) => join(dir, 'cas%d', 'object%d', ...rest);

/** True when /dev/shm exists and has `bytes` free (a container's is often 64 MB). */
function shmRoom(bytes: number): boolean {
  try {
    const stats = fs.statfsSync('/dev/shm');
    return stats.bavail * stats.bsize >= bytes;
  } catch {
    return false;
  }
}

function child(args: string[]): Fixture {
  return spawnFixture(join(here, 'fixtures', 'put-stream.ts'), args, children);
}

const stacks: [string, (dir: string) => Store<Uint8Array>][] = [
  ['file()', (dir) => file(dir)],
  ['log()', (dir) => log(dir)],
  ['dict()', () => dict()],
  ['buffer(dict(), file())', (dir) => buffer(dict(), file(dir), { availableMemory: 1 << 20 })],
];

describe.each(stacks)('cas() over %s', (_name, make) => {
  it('puts bytes, an async iterable and a Readable, and reads each back checked, whole and in ranges', async () => {
    const store = opened(make(tempDir()));
    const objects = cas(store);
    const small = bytes(1000, 1);
    const large = bytes(12 << 20, 2); // above the whole-read limit: open() checks in a pass of its own
    const id1 = await objects.put(small);
    expect(id1).toBe(sha256(small));
    const id2 = await objects.put(Readable.from([large.subarray(0, 5 << 20), large.subarray(5 << 20)]));
    expect(id2).toBe(sha256(large));
    const empty = await objects.put((async function* () {})());
    expect(empty).toBe(sha256(new Uint8Array(0)));

    expect(Buffer.from(await objects.get(id1)).equals(small)).toBe(true);
    expect(Buffer.from(await objects.get(id2)).equals(large)).toBe(true);
    expect((await objects.get(empty)).byteLength).toBe(0);
    expect((await collect(objects.open(id2))).bytes.equals(large)).toBe(true);
    expect((await collect(objects.open(id2, { start: 3_000_001, end: 9_999_999 }))).bytes.equals(large.subarray(3_000_001, 9_999_999))).toBe(true);
    expect((await collect(objects.open(id2, { start: 7, end: 9_000_000, verify: 'end' }))).bytes.equals(large.subarray(7, 9_000_000))).toBe(true);
    expect((await collect(objects.open(id1, { start: 10, end: 20 }))).bytes.equals(small.subarray(10, 20))).toBe(true);
    expect((await collect(objects.open(id1, { start: 500, end: 100 }))).bytes.byteLength).toBe(0);

    expect(await objects.has(id2)).toBe(true);
    expect(await objects.stat(id2)).toEqual({ id: id2, size: large.byteLength });
    const absent = sha256(Buffer.from('never put'));
    expect(await objects.has(absent)).toBe(false);
    expect(await objects.stat(absent)).toBeUndefined();
    expect((await rejection(objects.get(absent))).code).toBe('ERR_NOT_FOUND');
    expect((await objects.ids()).sort()).toEqual([id1, id2, empty].sort());
  });

  it('refuses what is not an id or not bytes, storing nothing', async () => {
    const store = opened(make(tempDir()));
    const objects = cas(store);
    expect((await rejection(objects.get('abc'))).code).toBe('ERR_INVALID_KEY');
    expect((await rejection(objects.has(sha256(Buffer.from('x')).toUpperCase()))).code).toBe('ERR_INVALID_KEY');
    expect((await rejection(objects.put('text' as never))).code).toBe('ERR_VALUE_TYPE');
    expect((await rejection(objects.put(Readable.from(['a', 'b'])))).code).toBe('ERR_VALUE_TYPE');
    expect((await rejection(collect(objects.open(sha256(Buffer.from('x')), { start: -1 })))).code).toBe('ERR_NOT_FOUND');
    const id = await objects.put(Buffer.from('x'));
    expect((await rejection(collect(objects.open(id, { start: -1 })))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(collect(objects.open(id, { verify: 'later' as never })))).code).toBe('ERR_INVALID_OPTION');
    // The refused stream left no bytes behind.
    expect((await store.keys()).filter((key) => Array.isArray(key) && key[1] === 'data')).toHaveLength(1);
  });
});

describe('cas() over file(): what lies on disk', () => {
  it('stores the same bytes once, however and however often they are put (files counted)', async () => {
    const dir = tempDir();
    const objects = cas(opened(file(dir)));
    const large = bytes(3 << 20, 3); // written before it is recorded, unless its id is known
    const small = bytes(4096, 4); // written inside the recording lock section, only if new
    const ids = [
      await objects.put(large),
      await objects.put(Buffer.from(large)),
      await objects.put(Readable.from([large.subarray(0, 1234), large.subarray(1234)])),
      ...(await Promise.all([objects.put(large), objects.put(large), objects.put(small), objects.put(small)])),
      await objects.put(small),
    ];
    expect(new Set(ids)).toEqual(new Set([sha256(large), sha256(small)]));
    const data = filesUnder(dataDir(dir));
    expect(data).toHaveLength(2);
    expect(data.map((name) => fs.statSync(dataDir(dir, name)).size).sort((a, b) => a - b)).toEqual([small.byteLength, large.byteLength]);
    expect(filesUnder(objectDir(dir))).toHaveLength(2);
  });

  it('a flipped bit anywhere is ERR_CORRUPT from get(), open() and a ranged open(), and open() yields none of the bytes', async () => {
    const dir = tempDir();
    const objects = cas(opened(file(dir)));
    const small = bytes(50_000, 5);
    const large = bytes(10 << 20, 6);
    const ids = [await objects.put(small), await objects.put(large)];
    const flipped = ids.map((id, i) => {
      const [name] = filesUnder(dataDir(dir)).filter((n) => fs.statSync(dataDir(dir, n)).size === [small, large][i].byteLength);
      const path = dataDir(dir, name);
      const content = fs.readFileSync(path);
      const at = Math.floor(content.byteLength * 0.77);
      content[at] ^= 0x10;
      fs.writeFileSync(path, content);
      return { id, size: content.byteLength, at };
    });
    for (const { id, size, at } of flipped) {
      expect((await rejection(objects.get(id))).code).toBe('ERR_CORRUPT');
      for (const range of [{}, { start: 0, end: 100 }, { start: at - 10, end: at + 10 }, { start: size - 5 }]) {
        const got: Uint8Array[] = [];
        const error = await rejection((async () => {
          for await (const chunk of objects.open(id, range)) got.push(chunk);
        })());
        expect(error.code).toBe('ERR_CORRUPT');
        expect(error.key).toBe(id);
        expect(got).toHaveLength(0);
      }
      // The deferred check throws too, once the whole object was read.
      expect((await rejection(collect(objects.open(id, { verify: 'end' })))).code).toBe('ERR_CORRUPT');
    }
    // A cut-short object is caught the same way.
    const third = await objects.put(bytes(20_000, 7));
    const [name] = filesUnder(dataDir(dir)).filter((n) => fs.statSync(dataDir(dir, n)).size === 20_000);
    fs.truncateSync(dataDir(dir, name), 19_999);
    expect((await rejection(objects.get(third))).code).toBe('ERR_CORRUPT');
    // remove() and a new put() repair it.
    await objects.remove(third);
    expect(await objects.has(third)).toBe(false);
    await objects.put(bytes(20_000, 7));
    expect(Buffer.from(await objects.get(third)).equals(bytes(20_000, 7))).toBe(true);
  });

  it('streams a 2 GB generated put with bounded memory, in a child process whose peak RSS is measured', async () => {
    const TOTAL = 2 * 1024 ** 3;
    // In memory-backed /dev/shm where it has room: the test is about put()'s memory, not the disk's write-back speed.
    const dir = shmRoom(TOTAL + (256 << 20)) ? fs.mkdtempSync('/dev/shm/laminate-cas-test-') : tempDir();
    try {
      const writer = child([dir, String(TOTAL)]);
      expect(await writer.done, writer.stderr()).toBe(0);
      const { id, check, maxRss } = JSON.parse(writer.lines[0]) as { id: string; check: string; maxRss: number };
      // The id is the digest of the generated stream, hashed apart from put().
      expect(id).toBe(check);
      // Node, tsx and the test code take well under 200 MB; the stream is ten times that.
      expect(maxRss).toBeLessThan(256 * 1024 ** 2);
      const store = file(dir);
      expect(await cas(store).stat(id)).toEqual({ id, size: TOTAL });
      await store.close();
      const names = filesUnder(dataDir(dir));
      expect(names).toHaveLength(1);
      expect(fs.statSync(dataDir(dir, names[0])).size).toBe(TOTAL);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('a writer killed with SIGKILL mid-put leaves no object, and gc() removes the bytes it left', async () => {
    const dir = tempDir();
    const writer = child([dir, 'forever']);
    while (!writer.lines.includes('writing') && writer.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(writer.lines).toContain('writing');
    writer.process.kill('SIGKILL');
    await writer.done;
    const store = opened(file(dir));
    const objects = cas(store);
    // Bytes were written, none recorded: no object exists, so none can name bytes that do not hash to it.
    expect(filesUnder(dataDir(dir)).length).toBe(1);
    expect(await objects.ids()).toEqual([]);
    // Its pid is gone, so its bytes go at once, with no grace period on this host.
    expect(await catalog(store).gc()).toEqual({ objects: 0, partial: 1 });
    expect(filesUnder(dataDir(dir))).toEqual([]);
    // The store is usable as before.
    const id = await objects.put(Buffer.from('after the crash'));
    expect(Buffer.from(await objects.get(id)).toString()).toBe('after the crash');
  }, 60_000);
});
