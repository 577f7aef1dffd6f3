/**
 * Reads without fresh memory, on file() and log(): getView() returns a view
 * of a scratch buffer the store reuses (valid until the next getView()),
 * readInto() reads into the caller's buffer. What is checked: the bytes,
 * which memory they lie in, what a later call does to an earlier view, and
 * the errors; for log(), a trimmed key's start and a damaged value too.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buffer, dict, file, isLaminateError, log } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-views-test-', afterAll);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

const STORES = [
  ['file()', (dir: string) => file(dir)],
  ['log()', (dir: string) => log(dir)],
] as const;

describe.each(STORES)('%s: getView()', (_, open) => {
  it('reads a key into the same memory each time: the next getView() overwrites the last view, as documented; get() results are not touched', async () => {
    const store = open(tempDir());
    await store.append({ a: Buffer.from('a'.repeat(100)), b: Buffer.from('b'.repeat(100)), small: Buffer.from('xy') });
    await store.append({ a: Buffer.from('A'.repeat(20)) });
    const copy = await store.get('a');

    const first = await store.getView('a');
    expect(text(first)).toBe('a'.repeat(100) + 'A'.repeat(20));
    const second = await store.getView('b');
    expect(text(second)).toBe('b'.repeat(100));
    // The same memory: the first view now shows the second key's bytes.
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset);
    expect(text(first)).toBe('b'.repeat(100) + 'A'.repeat(20));
    // A shorter key reuses it too; what get() returned is its own memory.
    expect(text(await store.getView('small'))).toBe('xy');
    expect(text(copy)).toBe('a'.repeat(100) + 'A'.repeat(20));

    // A missing key is empty, and leaves the last view as it was.
    const last = await store.getView('b');
    expect((await store.getView('missing')).byteLength).toBe(0);
    expect(text(last)).toBe('b'.repeat(100));
    await store.close();
  });

  it('grows its buffer for a larger key, and reads keys appended after the view was taken', async () => {
    const store = open(tempDir());
    await store.append({ k: Buffer.from('1') });
    const small = await store.getView('k');
    expect(text(small)).toBe('1');
    const big = Buffer.alloc(300_000, 7);
    await store.append({ k: big });
    const grown = await store.getView('k');
    expect(grown.byteLength).toBe(300_001);
    expect(grown[0]).toBe('1'.charCodeAt(0));
    expect(Buffer.compare(Buffer.from(grown.subarray(1)), big)).toBe(0);
    await store.close();
    expect(isLaminateError(await rejection(store.getView('k')), 'ERR_CLOSED')).toBe(true);
  });
});

describe.each(STORES)('%s: readInto()', (_, open) => {
  it("reads a key into the caller's buffer from its start, returns its size, and leaves the rest of the buffer alone", async () => {
    const store = open(tempDir());
    await store.append({ k: Buffer.from('hello '), other: Buffer.from('zz') });
    await store.append({ k: Buffer.from('world') });
    const target = Buffer.alloc(16, '.');
    expect(await store.readInto('k', target)).toBe(11);
    expect(target.toString()).toBe('hello world.....');
    // The same buffer again, for another key: the caller's memory, reused.
    expect(await store.readInto('other', target)).toBe(2);
    expect(target.toString()).toBe('zzllo world.....');
    expect(await store.readInto('missing', target)).toBe(0);
    await store.close();
  });

  it('a key larger than the buffer is ERR_TOO_LARGE with its size, and nothing is read; a target that is not bytes is ERR_VALUE_TYPE', async () => {
    const store = open(tempDir());
    await store.append({ k: Buffer.from('0123456789') });
    const target = Buffer.alloc(4, '.');
    const error = await rejection(store.readInto('k', target));
    expect(isLaminateError(error, 'ERR_TOO_LARGE')).toBe(true);
    expect((error as unknown as { size: number }).size).toBe(10);
    expect(error.message).toContain('at least 10 bytes');
    expect(target.toString()).toBe('....');
    expect(isLaminateError(await rejection(store.readInto('k', 'nope' as never)), 'ERR_VALUE_TYPE')).toBe(true);
    await store.close();
  });
});

describe('log(): views of trimmed and damaged keys', () => {
  it("a trimmed key's view and readInto() start at its start, also when the target has room only for what is left", async () => {
    const store = log(tempDir());
    await store.append({ k: Buffer.from('aaaa') });
    await store.append({ k: Buffer.from('bbbb') });
    await store.trim('k', 6);
    expect(text(await store.getView('k'))).toBe('bb');
    const roomy = Buffer.alloc(10, '.');
    expect(await store.readInto('k', roomy)).toBe(2);
    expect(roomy.toString()).toBe('bb........');
    // Room for the two bytes left only, not for the cut value read whole.
    const tight = Buffer.alloc(2, '.');
    expect(await store.readInto('k', tight)).toBe(2);
    expect(tight.toString()).toBe('bb');
    const error = await rejection(store.readInto('k', Buffer.alloc(1)));
    expect(isLaminateError(error, 'ERR_TOO_LARGE')).toBe(true);
    expect((error as unknown as { size: number }).size).toBe(2);
    await store.close();
  });

  it('a flipped bit in a value is ERR_CORRUPT_FRAME naming the key, through getView() and readInto() as through get()', async () => {
    const dir = tempDir();
    const store = log(dir, { readCacheBytes: 0 });
    await store.append({ good: Buffer.from('fine value'), bad: Buffer.from('value to damage') });
    const [segment] = fs.readdirSync(dir).filter((name) => name.endsWith('.seg'));
    const path = join(dir, segment);
    const bytes = fs.readFileSync(path);
    bytes[bytes.indexOf('to damage')] ^= 0x04;
    fs.writeFileSync(path, bytes);
    for (const read of [() => store.getView('bad'), () => store.readInto('bad', Buffer.alloc(64))]) {
      const error = await rejection(read());
      expect(isLaminateError(error, 'ERR_CORRUPT_FRAME')).toBe(true);
      expect(error.key).toBe('"bad"');
    }
    expect(text(await store.getView('good'))).toBe('fine value');
    await store.close();
  });

  it("buffer(dict(), log()) reads a spilled key's view from log() with the bytes in memory after it", async () => {
    const dir = tempDir();
    const store = buffer(dict(), log(dir), { availableMemory: 1 });
    await store.append({ k: Buffer.from('spilled ') });
    await store.append({ k: Buffer.from('and more') });
    const first = await store.getView('k');
    expect(text(first)).toBe('spilled and more');
    // Read into buffer()'s reused memory through log().readInto(), not joined into fresh memory.
    await store.append({ k: Buffer.from('!') });
    const second = await store.getView('k');
    expect(text(second)).toBe('spilled and more!');
    expect(second.buffer).toBe(first.buffer);
    await store.close();
  });

  it("buffer(dict(), log()) puts the bytes in memory right after a trimmed key's spilled bytes", async () => {
    const dir = tempDir();
    const store = buffer(dict(), log(dir), { availableMemory: 1 << 20 });
    await store.append({ k: Buffer.from('aaaa') });
    await store.append({ k: Buffer.from('bbbb') });
    await store.flush();
    const other = log(dir);
    await other.trim('k', 6);
    await other.close();
    await store.append({ k: Buffer.from('-memory') });
    expect(text(await store.getView('k'))).toBe('bb-memory');
    const target = Buffer.alloc(12, '.');
    expect(await store.readInto('k', target)).toBe(9);
    expect(target.toString()).toBe('bb-memory...');
    await store.close();
  });
});
