// buffer()'s reads without fresh memory: getView() reads a key's spilled
// bytes into a scratch buffer the store reuses and puts its bytes in memory
// after them (valid until the next getView()); readInto() reads into the
// caller's buffer.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LaminateError, buffer, dict, file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';

const tempDir = tempDirs('laminate-buffer-views-');

/** A buffer over file() with `spilled` bytes of key `k` on disk and `held` more in memory, and every byte it holds. */
async function splitKey(spilled: number, held: number) {
  const dir = tempDir();
  const store = buffer(dict(), file(dir), { availableMemory: 1 << 20 });
  const first = Buffer.alloc(spilled);
  for (let i = 0; i < spilled; i++) first[i] = (i * 7) % 251;
  await store.append({ k: first });
  await store.flush();
  const second = Buffer.alloc(held, 'm');
  if (held > 0) await store.append({ k: second });
  expect(store.spilledBytes).toBe(spilled);
  expect(store.memoryUsage).toBe(held);
  return { store, dir, whole: Buffer.concat([first, second]) };
}

/**
 * Makes key k's file grow by `extra` while the buffer's slow store reads it:
 * after the store took the file's size and before it read the bytes, as
 * another writer appending to the file would.
 */
function growsDuringTheRead(store: ReturnType<typeof buffer>, dir: string, extra: Buffer): void {
  const slow = store.slow as ReturnType<typeof file>;
  const readIdInto = slow.readIdInto.bind(slow);
  slow.readIdInto = (id, room) => {
    slow.readIdInto = readIdInto;
    return readIdInto(id, (size) => {
      fs.appendFileSync(join(dir, 'k'), extra);
      return room(size);
    });
  };
}

describe('buffer().getView()', () => {
  it('returns the spilled bytes then those in memory, the same as get()', async () => {
    const { store, whole } = await splitKey(5000, 300);
    const view = await store.getView('k');
    expect(Buffer.compare(view, whole)).toBe(0);
    expect(Buffer.compare(await store.get('k'), whole)).toBe(0);
    await store.close();
  });

  it('reads into the same memory each time: the next getView() overwrites the last view, as documented', async () => {
    const { store, whole } = await splitKey(4000, 100);
    await store.append({ j: Buffer.alloc(3000, 'j') });
    await store.flush();
    const first = await store.getView('k');
    expect(Buffer.compare(first, whole)).toBe(0);
    const second = await store.getView('j');
    expect(second.buffer).toBe(first.buffer);
    expect(String(second)).toBe('j'.repeat(3000));
    // The first view now shows j's bytes where k's were.
    expect(first[0]).toBe('j'.charCodeAt(0));
    await store.close();
  });

  it('a key held only in memory is the fast store\'s bytes, and a missing key is empty', async () => {
    const store = buffer(dict(), file(tempDir()), { availableMemory: 1 << 20 });
    await store.append({ k: Buffer.from('in memory') });
    expect(String(await store.getView('k'))).toBe('in memory');
    expect((await store.getView('never')).byteLength).toBe(0);
    await store.close();
  });

  it("reads the key's file as it was when opened: bytes another process appends during the read come with the next read", async () => {
    const { store, dir, whole } = await splitKey(2000, 50);
    const extra = Buffer.alloc(9000, 'x');
    growsDuringTheRead(store, dir, extra);
    const onDisk = whole.subarray(0, 2000);
    const inMemory = whole.subarray(2000);
    expect(Buffer.compare(await store.getView('k'), whole)).toBe(0);
    expect(Buffer.compare(await store.getView('k'), Buffer.concat([onDisk, extra, inMemory]))).toBe(0);
    await store.close();
  });

  it('leaves room for the bytes in memory when the file grew to just short of a scratch buffer left large by an earlier read', async () => {
    const { store, dir, whole: onDisk } = await splitKey(2000, 0);
    await store.append({ big: Buffer.alloc(20_000, 'b') });
    await store.flush();
    expect((await store.getView('big')).byteLength).toBe(20_000); // the scratch is 20,000 bytes now
    const inMemory = Buffer.alloc(50, 'm');
    await store.append({ k: inMemory });
    const extra = Buffer.alloc(20_000 - 2000 - 10, 'x'); // the file grows to 10 bytes short of the scratch
    const other = file(dir);
    await other.append({ k: extra });
    const view = await store.getView('k');
    expect(Buffer.compare(view, Buffer.concat([onDisk, extra, inMemory]))).toBe(0);
    await other.close();
    await store.close();
  });

  it('over a slow store that cannot read into given memory, is get()', async () => {
    const store = buffer(dict(), dict(), { availableMemory: 100 });
    await store.append({ k: Buffer.alloc(500, 'a') });
    await store.append({ k: Buffer.from('b') });
    expect(String(await store.getView('k'))).toBe('a'.repeat(500) + 'b');
    await store.close();
  });
});

describe('buffer().readInto()', () => {
  it('reads the key into the caller\'s buffer and says how many bytes it holds', async () => {
    const { store, whole } = await splitKey(3000, 200);
    const target = Buffer.alloc(10_000, 0xee);
    const n = await store.readInto('k', target);
    expect(n).toBe(whole.byteLength);
    expect(Buffer.compare(target.subarray(0, n), whole)).toBe(0);
    expect(target[n]).toBe(0xee);
    await store.close();
  });

  it('a buffer too small is ERR_TOO_LARGE with the size, and is left as it was', async () => {
    const { store, whole } = await splitKey(3000, 200);
    const target = Buffer.alloc(1000, 0xee);
    const error = await store.readInto('k', target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaminateError);
    expect((error as LaminateError).code).toBe('ERR_TOO_LARGE');
    expect((error as { size: number }).size).toBe(whole.byteLength);
    expect(target.every((byte) => byte === 0xee)).toBe(true);
    // The store still reads the key whole.
    expect(Buffer.compare(await store.get('k'), whole)).toBe(0);
    await store.close();
  });

  it('refuses a target that is not bytes with ERR_VALUE_TYPE', async () => {
    const store = buffer(dict(), file(tempDir()), { availableMemory: 1 << 20 });
    const error = await store.readInto('k', 'nope' as unknown as Uint8Array).catch((e: unknown) => e);
    expect((error as LaminateError).code).toBe('ERR_VALUE_TYPE');
    await store.close();
  });
});
