/**
 * Following file() keys, on disk: bytes read from a position without the
 * lock (a missing key, folder or file in a folder's place is an empty read;
 * a folder in the key's place too), seal markers (decimal text, the first
 * seal kept, nothing left aside, a marker changed by hand refused with
 * ERR_IO), and the folder watch that wakes a follower when its key's file
 * changes, and not for other files.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { file } from '@laminate/core';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';
import { readSeal, removeSeal, sealPaths, watchKeyFile, writeSeal } from '../src/follow-file.js';
import { KeyPaths, escapedLayout } from '../src/key-paths.js';
import { keyId } from '../src/keys.js';
import { readFromPosition, trimPaths } from '../src/retention-file.js';
import { promiseState as state } from './fixtures/promise-state.js';

const tempDir = tempDirs('laminate-follow-file-test-', afterAll);
const text = (value: Uint8Array) => Buffer.from(value).toString();


/** Resolves at the next change a plain watch of `folder` reports for `name`: the witness that the system has told of it. */
function witness(folder: string, name: string): { seen: Promise<void>; close(): void } {
  let watcher: fs.FSWatcher | undefined;
  const seen = new Promise<void>((resolve) => {
    watcher = fs.watch(folder, { persistent: false }, (_event, changed) => {
      if (changed === name) resolve();
    });
  });
  return { seen, close: () => watcher?.close() };
}

describe('file(): reading a followed key without the lock', () => {
  it('reads up to max bytes from the offset, and nothing at or past the end', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'k'), '0123456789');
    const data = new KeyPaths(dir, escapedLayout);
    expect(text(await readFromPosition(data, trimPaths(dir), 'k', 0, 100))).toBe('0123456789');
    expect(text(await readFromPosition(data, trimPaths(dir), 'k', 3, 4))).toBe('3456');
    expect(text(await readFromPosition(data, trimPaths(dir), 'k', 9, 4))).toBe('9');
    expect((await readFromPosition(data, trimPaths(dir), 'k', 10, 4)).byteLength).toBe(0);
    expect((await readFromPosition(data, trimPaths(dir), 'k', 11, 4)).byteLength).toBe(0);
  });

  it('reads a file larger than one read returns, whole', async () => {
    const dir = tempDir();
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.byteLength; i += 4096) big[i] = (i / 4096) & 0xff;
    fs.writeFileSync(join(dir, 'big'), big);
    const read = await readFromPosition(new KeyPaths(dir, escapedLayout), trimPaths(dir), 'big', 1, big.byteLength);
    expect(read.byteLength).toBe(big.byteLength - 1);
    expect(Buffer.compare(read, big.subarray(1))).toBe(0);
  });

  it('reads nothing for a key with no file, a tuple key whose folder is missing or is a file, or a folder in the key\'s place', async () => {
    const dir = tempDir();
    const data = new KeyPaths(dir, escapedLayout);
    const tuple = keyId(['a', 'b']);
    expect((await readFromPosition(data, trimPaths(dir), 'absent', 0, 10)).byteLength).toBe(0);
    expect((await readFromPosition(data, trimPaths(dir), tuple, 0, 10)).byteLength).toBe(0);
    // A file where the tuple's folder would be (put there by hand).
    fs.writeFileSync(join(dir, 'a%d'), 'not a folder');
    expect((await readFromPosition(new KeyPaths(dir, escapedLayout), trimPaths(dir), tuple, 0, 10)).byteLength).toBe(0);
    fs.mkdirSync(join(dir, 'folder'));
    expect((await readFromPosition(data, trimPaths(dir), 'folder', 0, 10)).byteLength).toBe(0);
  });

  it('refuses a link in the key\'s place (ERR_SYMLINK), reading nothing through it', async () => {
    const dir = tempDir();
    const outside = join(tempDir(), 'outside');
    fs.writeFileSync(outside, 'secret');
    fs.symlinkSync(outside, join(dir, 'k'));
    expect((await rejection(readFromPosition(new KeyPaths(dir, escapedLayout), trimPaths(dir), 'k', 0, 10))).code).toBe('ERR_SYMLINK');
  });

  it('a follower of file() reads each append from where it stopped, values split across appends included', async () => {
    const dir = tempDir();
    const store = file(dir);
    try {
      await store.append({ k: Buffer.from('ab') });
      const follower = store.follow('k', { idleTimeoutMs: 60_000 });
      const seen: string[] = [];
      for await (const piece of follower) {
        seen.push(text(piece));
        if (seen.length === 1) await store.append({ k: Buffer.from('cde') });
        else await store.seal('k');
      }
      expect(seen).toEqual(['ab', 'cde']);
      expect(follower.position).toBe(5);
      expect(follower.endedBy).toBe('sealed');
    } finally {
      await store.close();
    }
  });
});

describe('file(): seal markers', () => {
  it('writes the length as decimal text in .sealed, keeps the first, and leaves nothing aside', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    expect(seals.root).toBe(join(dir, '.sealed'));
    expect(seals.base).toBe(dir);
    expect(readSeal(seals, 'k')).toBeUndefined();
    writeSeal(seals, 'k', 12_345, false);
    expect(fs.readFileSync(join(dir, '.sealed', 'k'), 'latin1')).toBe('12345');
    expect(readSeal(seals, 'k')).toBe(12_345);
    writeSeal(seals, 'k', 7, true);
    expect(readSeal(seals, 'k')).toBe(12_345);
    writeSeal(seals, 'zero', 0, true);
    expect(readSeal(seals, 'zero')).toBe(0);
    expect(fs.readdirSync(join(dir, '.sealed')).sort()).toEqual(['k', 'zero']);
  });

  it('seals a tuple key in its folder, and reads no seal when a file stands where the folder would be', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    const tuple = keyId(['day', 7]);
    writeSeal(seals, tuple, 42, false);
    expect(fs.readFileSync(join(dir, '.sealed', 'day%d', '7'), 'latin1')).toBe('42');
    expect(readSeal(seals, tuple)).toBe(42);
    const other = keyId(['x', 'y']);
    fs.writeFileSync(join(dir, '.sealed', 'x%d'), 'by hand');
    expect(readSeal(sealPaths(dir), other)).toBeUndefined();
  });

  it('keeps the seal that won when another process linked its marker first', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    writeSeal(seals, 'k', 3, false);
    // As if the marker had appeared between this writer's look and its link.
    const blind = Object.assign(Object.create(Object.getPrototypeOf(seals)) as KeyPaths, seals, { stat: () => undefined });
    writeSeal(blind, 'k', 99, false);
    expect(readSeal(seals, 'k')).toBe(3);
    expect(fs.readdirSync(join(dir, '.sealed'))).toEqual(['k']);
  });

  it('passes on an error other than losing the race, leaving nothing aside', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    writeSeal(seals, 'first', 1, false);
    // A marker whose folder was never made: linking into it fails with ENOENT, which is no lost race.
    const careless = Object.assign(Object.create(Object.getPrototypeOf(seals)) as KeyPaths, seals, { prepare: () => undefined });
    const error = thrown(() => writeSeal(careless, keyId(['day', 1]), 2, false)) as unknown as NodeJS.ErrnoException;
    expect(error.code).toBe('ENOENT');
    expect(error.syscall).toBe('link');
    expect(fs.readdirSync(join(dir, '.sealed'))).toEqual(['first']);
  });

  it('refuses a marker changed by hand with ERR_IO naming the key', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    writeSeal(seals, 'k', 1, false);
    for (const by of ['', ' 12', '12 ', '12a', 'a12', '-1', '1e3', '1.5', '0x10', '9007199254740993']) {
      fs.writeFileSync(join(dir, '.sealed', 'k'), by);
      const error = thrown(() => readSeal(seals, 'k'));
      expect(error.code, JSON.stringify(by)).toBe('ERR_IO');
      expect(error.message).toContain('sealed');
      expect(error.message).toContain('"k"');
      expect(error.key).toBe('"k"');
    }
    fs.writeFileSync(join(dir, '.sealed', 'k'), '9007199254740991');
    expect(readSeal(seals, 'k')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('passes on an error reading a marker other than its absence: a folder in its place', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    fs.mkdirSync(join(dir, '.sealed', 'k'), { recursive: true });
    expect((thrown(() => readSeal(seals, 'k')) as unknown as NodeJS.ErrnoException).code).toBe('EISDIR');
  });

  it('passes on the write\'s own error when the marker folder is missing', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    const careless = Object.assign(Object.create(Object.getPrototypeOf(seals)) as KeyPaths, seals, { prepare: () => undefined });
    const error = thrown(() => writeSeal(careless, 'k', 1, false)) as unknown as NodeJS.ErrnoException;
    expect(error.code).toBe('ENOENT');
    expect(error.syscall).toBe('open');
    expect(fs.existsSync(join(dir, '.sealed'))).toBe(false);
  });

  it('removes a key\'s marker, and removing one that is not there changes nothing', () => {
    const dir = tempDir();
    const seals = sealPaths(dir);
    removeSeal(seals, 'never');
    writeSeal(seals, 'k', 5, false);
    writeSeal(seals, 'other', 6, false);
    removeSeal(seals, 'k');
    expect(readSeal(seals, 'k')).toBeUndefined();
    expect(readSeal(seals, 'other')).toBe(6);
    expect(fs.existsSync(join(dir, '.sealed', 'k'))).toBe(false);
  });

  it('a follower of file() stops at the sealed length even when bytes were appended after the seal', async () => {
    const dir = tempDir();
    const store = file(dir);
    try {
      await store.append({ k: Buffer.from('abc') });
      await store.seal('k');
      await store.append({ k: Buffer.from('def') });
      const follower = store.follow('k');
      expect(text(Buffer.concat(await collect(follower)))).toBe('abc');
      expect(follower.endedBy).toBe('sealed');
      await store.seal('k');
      expect(fs.readFileSync(join(dir, '.sealed', 'k'), 'latin1')).toBe('3');
    } finally {
      await store.close();
    }
  });
});

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('file(): the folder watch', () => {
  it('wakes when the key\'s file changes, and not when another file in its folder does', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'k'), '');
    const watch = watchKeyFile(join(dir, 'k'), dir, 2 ** 31 - 1);
    const end = new AbortController();
    try {
      const waiting = watch.next(2 ** 31 - 1, end.signal);
      const otherSeen = witness(dir, 'other');
      fs.writeFileSync(join(dir, 'other'), 'x');
      await otherSeen.seen;
      otherSeen.close();
      expect(await state(waiting)).toBe('pending');
      const keySeen = witness(dir, 'k');
      fs.appendFileSync(join(dir, 'k'), 'x');
      await keySeen.seen;
      keySeen.close();
      await waiting;
    } finally {
      end.abort();
      watch.close();
    }
  });

  it('watches the key\'s own folder for a tuple key, once the folder exists', async () => {
    const dir = tempDir();
    fs.mkdirSync(join(dir, 'a%d'));
    const path = join(dir, 'a%d', 'b');
    const watch = watchKeyFile(path, dir, 2 ** 31 - 1);
    try {
      const waiting = watch.next(2 ** 31 - 1);
      fs.writeFileSync(path, 'x');
      await waiting;
    } finally {
      watch.close();
    }
  });

  it('does not watch through a link to a folder elsewhere: changes there wake no one', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    fs.symlinkSync(elsewhere, join(dir, 'a%d'));
    const watch = watchKeyFile(join(dir, 'a%d', 'b'), dir, 2 ** 31 - 1);
    const end = new AbortController();
    try {
      const waiting = watch.next(2 ** 31 - 1, end.signal);
      const seen = witness(elsewhere, 'b');
      fs.writeFileSync(join(elsewhere, 'b'), 'x');
      await seen.seen;
      seen.close();
      expect(await state(waiting)).toBe('pending');
      end.abort();
      expect((await rejection(waiting)).code).toBe('ERR_ABORTED');
    } finally {
      watch.close();
    }
  });

  it('polls a key whose folder does not exist yet', async () => {
    const dir = tempDir();
    const watch = watchKeyFile(join(dir, 'missing%d', 'b'), dir, 1);
    await watch.next(2 ** 31 - 1);
    watch.close();
  });

  it('does not watch a folder outside the store', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    const watch = watchKeyFile(join(elsewhere, 'k'), dir, 2 ** 31 - 1);
    const end = new AbortController();
    try {
      const waiting = watch.next(2 ** 31 - 1, end.signal);
      const seen = witness(elsewhere, 'k');
      fs.writeFileSync(join(elsewhere, 'k'), 'x');
      await seen.seen;
      seen.close();
      expect(await state(waiting)).toBe('pending');
      end.abort();
      expect((await rejection(waiting)).code).toBe('ERR_ABORTED');
    } finally {
      watch.close();
    }
  });
});
