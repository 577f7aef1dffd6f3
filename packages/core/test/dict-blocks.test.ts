// dict() packs small values into a block per key that grows (copied into a
// larger one) up to 64 KiB, and a get of a key held in its block alone is a
// view of it. These tests check what a caller can see of that: views handed
// out stay as they were while the key grows, every byte comes back in order
// across growths and across the 64 KiB bound, and a trim or a large value
// between small ones loses and repeats nothing.
import { describe, expect, it } from 'vitest';
import { dict } from '@laminate/core';

/** `count` values of `size` bytes, value i filled with the byte i % 251 (so any shift or repeat shows). */
function values(count: number, size: number, from = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, (from + i) % 251));
}

describe('dict(): small values packed in a growing block', () => {
  it('a get is one piece of memory while the key is small, and later appends leave it as it was', async () => {
    const store = dict();
    const first = values(50, 100);
    for (const v of first) await store.append({ k: v });
    const early = await store.get('k');
    const earlyCopy = Buffer.from(early);
    // Enough to grow the block several times, and to pass 64 KiB.
    const later = values(2000, 100, 50);
    for (const v of later) await store.append({ k: v });
    expect(Buffer.compare(early, earlyCopy)).toBe(0);
    const whole = await store.get('k');
    expect(Buffer.compare(whole, Buffer.concat([...first, ...later]))).toBe(0);
    // A key past the bound is read whole again without change.
    expect(Buffer.compare(await store.get('k'), whole)).toBe(0);
  });

  it('a second get of an unchanged key returns the same bytes without a join', async () => {
    const store = dict();
    await store.append({ k: Buffer.from('abc') });
    await store.append({ k: Buffer.from('def') });
    const a = await store.get('k');
    const b = await store.get('k');
    expect(String(a)).toBe('abcdef');
    expect(b.buffer).toBe(a.buffer);
  });

  it('a caller overwriting the buffers it appended changes nothing stored, across growths', async () => {
    const store = dict();
    const reused = Buffer.alloc(300);
    const expected: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      reused.fill(i % 251);
      expected.push(Buffer.from(reused));
      await store.append({ k: reused });
    }
    expect(Buffer.compare(await store.get('k'), Buffer.concat(expected))).toBe(0);
  });

  it('keeps the order when large values and transferred values fall between small ones', async () => {
    const store = dict();
    const parts: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const size = i % 7 === 3 ? 5000 : 90;
      const v = Buffer.alloc(size, i % 251);
      parts.push(Buffer.from(v));
      await store.append({ k: v }, i % 11 === 5 ? { transfer: true } : undefined);
      if (i % 50 === 49) expect(Buffer.compare(await store.get('k'), Buffer.concat(parts))).toBe(0);
    }
    const pieces: Buffer[] = [];
    for await (const value of store.iter('k')) pieces.push(Buffer.from(value));
    expect(pieces).toEqual(parts);
  });

  it('a trim of a key held in its block keeps only the bytes from the start, once', async () => {
    const store = dict();
    const first = values(40, 100);
    for (const v of first) await store.append({ k: v });
    await store.get('k'); // the key is read as a view of its block, which stays
    await store.trim('k', 1050);
    const more = values(40, 100, 40);
    for (const v of more) await store.append({ k: v });
    expect(await store.startOf('k')).toBe(1050);
    const expected = Buffer.concat([...first, ...more]).subarray(1050);
    expect(Buffer.compare(await store.get('k'), expected)).toBe(0);
  });

  it('reads ranges across the grown block and the chunks before it', async () => {
    const store = dict();
    const parts = [...values(20, 2000), ...values(700, 100, 20)];
    for (const v of parts) await store.append({ k: v });
    const whole = Buffer.concat(parts);
    const follower = store.follow('k', { idleTimeoutMs: 50 });
    const seen: Buffer[] = [];
    for await (const value of follower) seen.push(Buffer.from(value));
    expect(Buffer.compare(Buffer.concat(seen), whole)).toBe(0);
  });
});

describe('dict(): copyIdInto()', () => {
  it("copies a key's pieces (values kept whole, then the used part of its block) into place without joining them, up to the length asked", async () => {
    const store = dict();
    const big = Buffer.alloc(3000, 'B');
    await store.append({ k: Buffer.from('ab') });
    await store.append({ k: big });
    await store.append({ k: Buffer.from('cd') }, { transfer: true });
    await store.append({ k: Buffer.from('ef') });
    const whole = Buffer.concat([Buffer.from('ab'), big, Buffer.from('cdef')]);
    const target = Buffer.alloc(whole.byteLength + 4, '.');
    expect(store.copyIdInto('k', target, 2, whole.byteLength)).toBe(whole.byteLength);
    expect(target.subarray(0, 2).toString()).toBe('..');
    expect(Buffer.compare(target.subarray(2, 2 + whole.byteLength), whole)).toBe(0);
    expect(target.subarray(2 + whole.byteLength).toString()).toBe('..');
    // A shorter length copies the key's first bytes only, ending inside a piece.
    const short = Buffer.alloc(10, '.');
    expect(store.copyIdInto('k', short, 0, 5)).toBe(5);
    expect(short.toString()).toBe('abBBB.....');
    expect(store.copyIdInto('missing', short, 0, 5)).toBe(0);
    // The pieces were not joined: get() still returns the same bytes.
    expect(Buffer.compare(await store.get('k'), whole)).toBe(0);
  });
});
