import { describe, expect, it } from 'vitest';
import { type BufferOptions, type BufferStore, DictStore, buffer, dict, file, isLaminateError } from '@laminate/core';
import { type KeyId } from '@laminate/core/layer';
import { rejection, seededRandom, tempDirs } from '@laminate/core/testing';

// ---------------------------------------------------------------- helpers

/** A seeded generator with integers, so a failing sequence can be replayed. */
function random(seed: number) {
  const next = seededRandom(seed);
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** `n` bytes that say which value they belong to: a tag byte, then a counter pattern. */
function value(tag: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = i === 0 ? tag & 0xff : (tag * 31 + i) & 0xff;
  return out;
}

/** What the fast store really holds, summed over its keys. */
async function realBytes(store: DictStore): Promise<number> {
  let total = 0;
  for (const id of await store.listIds()) total += store.sizeOf(id);
  return total;
}

async function keySet(store: DictStore): Promise<string[]> {
  return ((await store.keys()) as string[]).slice().sort();
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of iterable) out.push(Buffer.from(chunk));
  return out;
}

/** A dict() as a slow store that takes its time, or waits for a gate, in every append. */
class SlowDict extends DictStore {
  delayMs = 0;
  gate?: Promise<void>;
  calls = 0;
  /** Called when an append to this store starts, i.e. while a spill is under way. */
  onAppend?: () => void;
  /** Makes the next append fail after writing `after` of its values. */
  failNext?: { after: number; code: string };

  override async appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    this.calls++;
    this.onAppend?.();
    if (this.gate) await this.gate;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const failure = this.failNext;
    if (failure) {
      this.failNext = undefined;
      await super.appendIds(ids.slice(0, failure.after), values.slice(0, failure.after));
      throw Object.assign(new Error(`simulated ${failure.code}`), { code: failure.code, appended: failure.after });
    }
    await super.appendIds(ids, values);
  }
}

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A buffer over two inspectable dicts. */
function stack(opts: BufferOptions, slow: DictStore = dict()) {
  const fast = dict();
  const store = buffer(fast, slow, opts);
  return { fast, slow, store };
}

/** Checks that memoryUsage is exactly what the fast store holds. */
async function expectNoDrift(store: BufferStore, fast: DictStore): Promise<void> {
  expect(store.memoryUsage).toBe(await realBytes(fast));
}

const tempDir = tempDirs('laminate-buffer-test-');

// ---------------------------------------------------------------- flush policy

describe('buffer(): partd flush policy', () => {
  it('holds everything in memory while under availableMemory', async () => {
    const { fast, slow, store } = stack({ availableMemory: 10_000 });
    await store.append({ a: value(1, 4000), b: value(2, 3000) });
    await store.append({ a: value(3, 3000) });
    expect(store.memoryUsage).toBe(10_000); // exactly at the budget is not over it
    expect(await slow.keys()).toEqual([]);
    expect(store.spilledBytes).toBe(0);
    expect(await keySet(fast)).toEqual(['a', 'b']);
  });

  it('moves the largest key to the slow store and keeps the small ones in memory', async () => {
    const { fast, slow, store } = stack({ availableMemory: 10_000 });
    const small: Record<string, Buffer> = {};
    for (let i = 0; i < 50; i++) small[`small${i}`] = value(i, 100);
    await store.append({ big: value(200, 2000), ...small, medium: value(201, 1500) });
    expect(store.memoryUsage).toBe(8500);
    expect(await slow.keys()).toEqual([]);

    // 1,800 more bytes: 10,300 held, over budget. A tenth of that is 1,030
    // bytes, which the largest key alone covers.
    await store.append({ other: value(202, 1800) });
    expect(await slow.keys()).toEqual(['big']);
    expect(Buffer.from(await slow.get('big')).equals(value(200, 2000))).toBe(true);
    expect(await keySet(fast)).toEqual([...Object.keys(small), 'medium', 'other'].sort());
    expect(store.memoryUsage).toBe(8300);
    expect(store.spilledBytes).toBe(2000);
    await expectNoDrift(store, fast);
    // The store as a whole still answers for every key.
    expect(((await store.keys()) as string[]).sort()).toEqual([...Object.keys(small), 'big', 'medium', 'other'].sort());
  });

  it('spills about a tenth of the memory held, largest keys first', async () => {
    // 1,000 keys of 100 to 106 bytes, so that "largest" means something.
    const sizes = new Map<string, number>();
    const data: Record<string, Buffer> = {};
    let total = 0;
    for (let i = 0; i < 1000; i++) {
      const n = 100 + (i % 7);
      sizes.set(`k${i}`, n);
      data[`k${i}`] = value(i, n);
      total += n;
    }
    // They fill the budget exactly: nothing moves.
    const { fast, slow, store } = stack({ availableMemory: total });
    await store.append(data);
    expect(await slow.keys()).toEqual([]);
    // One more small key goes over it.
    await store.append({ extra: value(9, 50) });
    const held = total + 50;
    const moved = (await slow.keys()) as string[];
    const movedBytes = moved.reduce((sum, key) => sum + sizes.get(key)!, 0);
    // About a tenth: at least the tenth, and less than a tenth plus one key.
    expect(movedBytes).toBeGreaterThanOrEqual(held / 10);
    expect(movedBytes).toBeLessThan(held / 10 + 106);
    expect(store.spilledBytes).toBe(movedBytes);
    // The largest ones: nothing left in memory is larger than the smallest that moved.
    const smallestMoved = Math.min(...moved.map((key) => sizes.get(key)!));
    expect(smallestMoved).toBe(106);
    for (const key of (await fast.keys()) as string[]) expect(sizes.get(key) ?? 50).toBeLessThanOrEqual(smallestMoved);
    expect(moved).not.toContain('extra');
    expect(store.memoryUsage).toBe(held - movedBytes);
    await expectNoDrift(store, fast);
    for (const key of moved) expect(Buffer.from(await slow.get(key)).equals(data[key])).toBe(true);
  });

  it('moves at most maxSpillKeys keys per spill', async () => {
    const { fast, slow, store } = stack({ availableMemory: 100_000, maxSpillKeys: 16 });
    const data: Record<string, Buffer> = {};
    for (let i = 0; i < 1000; i++) data[`k${i}`] = value(i, 100);
    await store.append(data);
    await store.append({ extra: value(7, 100) });
    // A tenth would be ~101 keys; the bound keeps it to 16, which is enough to get back under budget.
    expect(await slow.keys()).toHaveLength(16);
    expect(store.memoryUsage).toBe(100_100 - 1600);
    await expectNoDrift(store, fast);
  });

  it('spills in several bounded rounds when one call goes far over budget', async () => {
    const slow = new SlowDict();
    const { fast, store } = stack({ availableMemory: 10_000, maxSpillKeys: 4 }, slow);
    const data: Record<string, Buffer> = {};
    for (let i = 0; i < 100; i++) data[`k${i}`] = value(i, 500); // 50,000 bytes in one call
    await store.append(data);
    expect(store.memoryUsage).toBeLessThanOrEqual(10_000);
    expect(store.memoryUsage).toBeGreaterThan(10_000 - 4 * 500); // no more spilled than needed
    // Each round moved at most 4 keys.
    expect(slow.calls).toBeGreaterThanOrEqual(Math.ceil((50_000 - 10_000) / (4 * 500)));
    expect(await slow.keys()).toHaveLength(100 - (await fast.keys()).length);
    for (const [key, bytes] of Object.entries(data)) expect(Buffer.from(await store.get(key)).equals(bytes)).toBe(true);
    await expectNoDrift(store, fast);
  });

  it('keeps a stream of small keys in memory while one key grows and is spilled again and again', async () => {
    const { fast, slow, store } = stack({ availableMemory: 20_000 });
    const small: Record<string, Buffer> = {};
    for (let i = 0; i < 100; i++) small[`s${i}`] = value(i, 50); // 5,000 bytes
    await store.append(small);
    for (let round = 0; round < 30; round++) await store.append({ growing: value(round, 1000) });
    expect(await slow.keys()).toEqual(['growing']);
    for (const key of Object.keys(small)) expect(fast.sizeOf(key)).toBe(50);
    const expected = Buffer.concat(Array.from({ length: 30 }, (_, round) => value(round, 1000)));
    expect(Buffer.from(await store.get('growing')).equals(expected)).toBe(true);
    await expectNoDrift(store, fast);
  });
});

// ---------------------------------------------------------------- read order

describe('buffer(): spilled data comes before in-memory data', () => {
  it('returns a, spilled, before b, still in memory', async () => {
    const { slow, store } = stack({ availableMemory: 1000 });
    const a = value(0xaa, 600);
    const b = value(0xbb, 100);
    await store.append({ k: a });
    await store.append({ filler: value(1, 500) }); // 1,100 held: k, the largest, moves
    expect(await slow.keys()).toEqual(['k']);
    await store.append({ k: b });
    expect(Buffer.from(await store.get('k')).equals(Buffer.concat([a, b]))).toBe(true);
    expect(Buffer.concat(await collect(store.iter('k'))).equals(Buffer.concat([a, b]))).toBe(true);
    expect((await store.getMany(['k', 'filler', 'missing'])).map((v) => v.byteLength)).toEqual([700, 500, 0]);
  });

  it('keeps append order across several spill rounds of the same key', async () => {
    const { slow, store } = stack({ availableMemory: 1000 });
    const parts: Buffer[] = [];
    await store.append({ filler: value(1, 400) });
    for (let round = 0; round < 6; round++) {
      // Each round: one part that goes to disk with the key, and one that stays in memory.
      const spilled = value(round * 2, 700);
      const kept = value(round * 2 + 1, 50);
      await store.append({ k: spilled });
      parts.push(spilled);
      expect(await slow.sizeOf('k')).toBe(parts.reduce((n, p) => n + p.byteLength, 0)); // k moved out
      await store.append({ k: kept });
      parts.push(kept);
      const whole = Buffer.concat(parts);
      expect(Buffer.from(await store.get('k')).equals(whole)).toBe(true);
      const chunks = await collect(store.iter('k'));
      expect(Buffer.concat(chunks).equals(whole)).toBe(true);
    }
    // The spilled part holds the big pieces; the memory part the last small one.
    expect(store.memoryUsage).toBe(400 + 50);
  });

  it('matches a model over random appends, spills and reads', async () => {
    const rnd = random(2024);
    const { fast, store } = stack({ availableMemory: 4000, maxSpillKeys: 3 });
    const model = new Map<string, Buffer[]>();
    let tag = 0;
    for (let step = 0; step < 400; step++) {
      const batch: [string, Buffer][] = [];
      for (let i = rnd.int(1, 4); i > 0; i--) {
        const key = `k${rnd.int(0, 19)}`;
        const bytes = value(tag++, rnd.int(1, 600));
        batch.push([key, bytes]);
      }
      await store.append(batch);
      for (const [key, bytes] of batch) model.set(key, [...(model.get(key) ?? []), bytes]);
      const key = `k${rnd.int(0, 19)}`;
      const want = Buffer.concat(model.get(key) ?? []);
      expect(Buffer.from(await store.get(key)).equals(want), `get(${key}) at step ${step}`).toBe(true);
      if (step % 20 === 0) {
        // iter yields whole appended values (never a piece of one), in order.
        const chunks = await collect(store.iter(key));
        expect(Buffer.concat(chunks).equals(want)).toBe(true);
        const ends = new Set<number>();
        let end = 0;
        for (const part of model.get(key) ?? []) ends.add((end += part.byteLength));
        end = 0;
        for (const chunk of chunks) expect(ends.has((end += chunk.byteLength))).toBe(true);
      }
      expect(store.memoryUsage).toBeLessThanOrEqual(4000);
    }
    expect(store.spilledBytes).toBeGreaterThan(0);
    for (const [key, parts] of model) expect(Buffer.from(await store.get(key)).equals(Buffer.concat(parts))).toBe(true);
    await expectNoDrift(store, fast);
  });
});

// ---------------------------------------------------------------- backpressure

describe('buffer(): append waits while memory is over budget', () => {
  it('does not resolve an append until the spill it started has finished', async () => {
    const slow = new SlowDict();
    const { store } = stack({ availableMemory: 1000 }, slow);
    await store.append({ a: value(1, 600) });
    const g = gate();
    slow.gate = g.promise;
    let spilling = false;
    slow.onAppend = () => (spilling = true);

    let firstDone = false;
    let secondDone = false;
    const first = store.append({ b: value(2, 600) }).then(() => (firstDone = true)); // 1,200 held: spills
    const second = store.append({ c: value(3, 10) }).then(() => (secondDone = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(spilling).toBe(true);
    expect(firstDone).toBe(false);
    expect(secondDone).toBe(false); // queued behind the spill, not piling up in memory
    expect(store.memoryUsage).toBe(1200);
    expect(await slow.keys()).toEqual([]);

    g.open();
    await first;
    expect(firstDone).toBe(true);
    // When the append resolves the spill is complete: the slow store holds the key, memory is back under budget.
    expect((await slow.keys()).length).toBe(1);
    expect(store.memoryUsage).toBeLessThanOrEqual(1000);
    await second;
    expect(secondDone).toBe(true);
  });

  it('keeps memory within availableMemory plus one call, however fast the producer is', async () => {
    const slow = new SlowDict();
    slow.delayMs = 2;
    const budget = 20_000;
    const { fast, store } = stack({ availableMemory: budget }, slow);
    let peak = 0;
    let drift = 0;
    const sample = async () => {
      peak = Math.max(peak, store.memoryUsage);
    };
    slow.onAppend = () => {
      // During a spill: memory is at its peak here.
      peak = Math.max(peak, store.memoryUsage);
    };
    const timer = setInterval(() => void sample(), 0);
    const rnd = random(7);
    let largestCall = 0;
    const calls: Promise<void>[] = [];
    const model = new Map<string, Buffer[]>();
    let tag = 0;
    // 300 appends fired without waiting, all at once, as a fast producer would.
    for (let i = 0; i < 300; i++) {
      const batch: [string, Buffer][] = [];
      let bytes = 0;
      for (let j = rnd.int(1, 3); j > 0; j--) {
        const v = value(tag++, rnd.int(100, 1500));
        bytes += v.byteLength;
        batch.push([`k${rnd.int(0, 30)}`, v]);
      }
      largestCall = Math.max(largestCall, bytes);
      for (const [key, v] of batch) model.set(key, [...(model.get(key) ?? []), v]);
      calls.push(
        store.append(batch).then(async () => {
          peak = Math.max(peak, store.memoryUsage);
          if (store.memoryUsage > budget) drift++;
        }),
      );
    }
    await Promise.all(calls);
    clearInterval(timer);
    expect(slow.calls).toBeGreaterThan(10);
    expect(peak).toBeGreaterThan(budget); // it did go over, briefly
    expect(peak).toBeLessThanOrEqual(budget + largestCall);
    expect(drift).toBe(0); // every append resolved with memory back under budget
    for (const [key, parts] of model) expect(Buffer.from(await store.get(key)).equals(Buffer.concat(parts))).toBe(true);
    await expectNoDrift(store, fast);
  });
});

// ---------------------------------------------------------------- memory count

describe('buffer(): memoryUsage never drifts from what the fast store holds', () => {
  it('after append, spill, delete, pop, drop and flush', async () => {
    const { fast, slow, store } = stack({ availableMemory: 3000 });
    await store.append({ a: value(1, 1000), b: value(2, 800), c: value(3, 300) });
    await expectNoDrift(store, fast);
    expect(store.memoryUsage).toBe(2100);
    await store.append({ a: value(4, 1000) }); // 3,100: a (2,000) moves
    await expectNoDrift(store, fast);
    expect(await slow.keys()).toEqual(['a']);
    await store.append({ a: value(5, 10) }); // a in both stores now
    await expectNoDrift(store, fast);
    await store.delete(['a', 'nothing']);
    await expectNoDrift(store, fast);
    expect(store.memoryUsage).toBe(1100);
    expect((await store.get('a')).byteLength).toBe(0);
    expect(await slow.keys()).toEqual([]);
    const popped = await store.pop('b');
    expect(Buffer.from(popped).equals(value(2, 800))).toBe(true);
    await expectNoDrift(store, fast);
    expect(store.memoryUsage).toBe(300);
    expect((await store.pop('never')).byteLength).toBe(0);
    await expectNoDrift(store, fast);
    await store.append({ d: value(6, 0) }); // an empty value
    await expectNoDrift(store, fast);
    await store.flush();
    expect(store.memoryUsage).toBe(0);
    await expectNoDrift(store, fast);
    expect(((await slow.keys()) as string[]).sort()).toEqual(['c', 'd']);
    await store.append({ c: value(7, 2000) });
    await store.drop();
    expect(store.memoryUsage).toBe(0);
    expect(store.spilledBytes).toBe(0);
    await expectNoDrift(store, fast);
    expect(await store.keys()).toEqual([]);
    await store.append({ e: value(8, 5) });
    expect(store.memoryUsage).toBe(5);
    await expectNoDrift(store, fast);
  });

  it('over a long random mix of every operation, including concurrent ones', async () => {
    const rnd = random(99);
    const { fast, store } = stack({ availableMemory: 5000, maxSpillKeys: 5 });
    const model = new Map<string, Buffer[]>();
    let tag = 0;
    for (let step = 0; step < 600; step++) {
      const op = rnd.next();
      const key = `k${rnd.int(0, 24)}`;
      if (op < 0.6) {
        // A burst of concurrent appends: they serialize in call order.
        const burst: Promise<void>[] = [];
        for (let j = rnd.int(1, 3); j > 0; j--) {
          const k = `k${rnd.int(0, 24)}`;
          const v = value(tag++, rnd.int(0, 700));
          model.set(k, [...(model.get(k) ?? []), v]);
          burst.push(store.append([[k, v]]));
        }
        await Promise.all(burst);
      } else if (op < 0.7) {
        const doomed = [key, `k${rnd.int(0, 24)}`];
        await store.delete(doomed);
        for (const k of doomed) model.delete(k);
      } else if (op < 0.8) {
        const got = await store.pop(key);
        expect(Buffer.from(got).equals(Buffer.concat(model.get(key) ?? [])), `pop(${key}) at ${step}`).toBe(true);
        model.delete(key);
      } else if (op < 0.85) {
        await store.flush();
        expect(store.memoryUsage).toBe(0);
      } else if (op < 0.87) {
        await store.drop();
        model.clear();
      } else {
        const got = await store.get(key);
        expect(Buffer.from(got).equals(Buffer.concat(model.get(key) ?? [])), `get(${key}) at ${step}`).toBe(true);
      }
      await expectNoDrift(store, fast);
      expect(store.memoryUsage).toBeLessThanOrEqual(5000);
    }
    const keys = ((await store.keys()) as string[]).sort();
    expect(keys).toEqual([...model.keys()].sort());
    for (const [key, parts] of model) expect(Buffer.from(await store.get(key)).equals(Buffer.concat(parts))).toBe(true);
  });

  it('stays exact when the slow store fails part-way through a spill', async () => {
    const slow = new SlowDict();
    const { fast, store } = stack({ availableMemory: 1000, maxSpillKeys: 10, spillFraction: 1 }, slow);
    await store.append({ a: value(1, 400), b: value(2, 300), c: value(3, 200) });
    // The next spill moves a, b and c in one call; the slow store takes a, then fails.
    slow.failNext = { after: 1, code: 'EIO' };
    const error = await rejection(store.append({ d: value(4, 150) }));
    expect(error.code).toBe('EIO');
    // The documented contract: the failed append's values are held in memory, and the error says so,
    // so that a caller does not append them again.
    expect((error as { stored?: unknown }).stored).toBe(true);
    await expectNoDrift(store, fast);
    expect(await slow.keys()).toEqual(['a']);
    expect((await fast.keys()).sort()).toEqual(['b', 'c', 'd']);
    // Nothing lost, nothing written twice: d is stored, as `stored: true` promised.
    expect(Buffer.from(await store.get('a')).equals(value(1, 400))).toBe(true);
    expect(Buffer.from(await store.get('b')).equals(value(2, 300))).toBe(true);
    expect(Buffer.from(await store.get('c')).equals(value(3, 200))).toBe(true);
    expect(Buffer.from(await store.get('d')).equals(value(4, 150))).toBe(true);
    // Once the slow store works again, the buffer carries on.
    await store.append({ e: value(5, 500) });
    expect(store.memoryUsage).toBeLessThanOrEqual(1000);
    await expectNoDrift(store, fast);
    expect(Buffer.from(await store.get('b')).equals(value(2, 300))).toBe(true);
    expect(Buffer.from(await store.get('e')).equals(value(5, 500))).toBe(true);
  });

  it('passes on what a slow store rejects a spill with, even null, and keeps every value in memory', async () => {
    class NullRejectingDict extends DictStore {
      override appendIds(): Promise<void> {
        return Promise.reject(null);
      }
    }
    const { fast, store } = stack({ availableMemory: 1000, maxSpillKeys: 10, spillFraction: 1 }, new NullRejectingDict());
    await store.append({ a: value(1, 600) });
    let thrown: unknown = 'nothing';
    await store.append({ b: value(2, 600) }).catch((error: unknown) => (thrown = error));
    expect(thrown).toBeNull();
    await expectNoDrift(store, fast);
    expect(Buffer.from(await store.get('a')).equals(value(1, 600))).toBe(true);
    expect(Buffer.from(await store.get('b')).equals(value(2, 600))).toBe(true);
  });
});

// ---------------------------------------------------------------- maxDiskBytes

describe('buffer(): maxDiskBytes', () => {
  async function snapshot(store: BufferStore, keys: string[]) {
    return Promise.all(keys.map(async (key) => Buffer.from(await store.get(key)).toString('hex')));
  }

  async function slowBytes(slow: DictStore): Promise<number> {
    return realBytes(slow);
  }

  it('rejects with ERR_DISK_FULL an append that would spill past it, storing nothing from that call', async () => {
    const { fast, slow, store } = stack({ availableMemory: 1000, maxDiskBytes: 2000 });
    await store.append({ a: value(1, 900) });
    await store.append({ b: value(2, 200) }); // a (900) spills
    expect(store.spilledBytes).toBe(900);
    await store.append({ c: value(3, 700) }); // 900 held, no spill
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const before = await snapshot(store, keys);
    const memoryBefore = store.memoryUsage;

    // 900 held + 1,500 would need about 1,400 more on disk: 2,300 > 2,000.
    const error = await rejection(store.append({ d: value(4, 100), e: value(5, 1400) }));
    expect(isLaminateError(error, 'ERR_DISK_FULL')).toBe(true);
    expect(error.message).toMatch(/maxDiskBytes/);
    expect(await snapshot(store, keys)).toEqual(before);
    expect(store.memoryUsage).toBe(memoryBefore);
    expect(store.spilledBytes).toBe(900);
    expect(await slowBytes(slow)).toBe(900);
    await expectNoDrift(store, fast);
    expect(((await store.keys()) as string[]).sort()).toEqual(['a', 'b', 'c']);

    // Appends that fit still work, and everything stored before is readable.
    await store.append({ d: value(4, 50) });
    expect(Buffer.from(await store.get('a')).equals(value(1, 900))).toBe(true);
    expect(Buffer.from(await store.get('c')).equals(value(3, 700))).toBe(true);
    expect(Buffer.from(await store.get('d')).equals(value(4, 50))).toBe(true);
  });

  it('never lets the slow store hold more than maxDiskBytes, even when a spill moves a whole large key', async () => {
    const { fast, slow, store } = stack({ availableMemory: 1000, maxDiskBytes: 1000 });
    await store.append({ a: value(1, 950) });
    await store.append({ b: value(2, 100) }); // a spills: 950 on disk
    expect(await slowBytes(slow)).toBe(950);
    await store.append({ c: value(3, 850) }); // 950 held
    await store.append({ d: value(4, 40) }); // 990 held
    // 10 bytes over budget, but the spill would move c whole (850 bytes): 1,800 on disk.
    const error = await rejection(store.append({ e: value(5, 20) }));
    expect(isLaminateError(error, 'ERR_DISK_FULL')).toBe(true);
    expect(await slowBytes(slow)).toBeLessThanOrEqual(1000);
    expect(store.spilledBytes).toBeLessThanOrEqual(1000);
    expect((await store.get('e')).byteLength).toBe(0);
    expect(Buffer.from(await store.get('c')).equals(value(3, 850))).toBe(true);
    await expectNoDrift(store, fast);
  });

  it('holds the bound over random traffic, and a rejected call changes nothing', async () => {
    const rnd = random(5);
    const max = 30_000;
    const { fast, slow, store } = stack({ availableMemory: 5000, maxDiskBytes: max });
    const model = new Map<string, Buffer[]>();
    let rejected = 0;
    let tag = 0;
    for (let step = 0; step < 300; step++) {
      const batch: [string, Buffer][] = [];
      for (let j = rnd.int(1, 3); j > 0; j--) batch.push([`k${rnd.int(0, 15)}`, value(tag++, rnd.int(10, 900))]);
      const error = await store.append(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error) {
        expect(isLaminateError(error, 'ERR_DISK_FULL')).toBe(true);
        rejected++;
        if (rnd.next() < 0.5) {
          // Free some disk: deleting keys gives their spilled bytes back.
          const victim = [...model.keys()][rnd.int(0, model.size - 1)];
          await store.delete([victim]);
          model.delete(victim);
        }
      } else {
        for (const [key, v] of batch) model.set(key, [...(model.get(key) ?? []), v]);
      }
      expect(await slowBytes(slow)).toBeLessThanOrEqual(max);
      expect(store.spilledBytes).toBe(await slowBytes(slow));
      await expectNoDrift(store, fast);
    }
    expect(rejected).toBeGreaterThan(0);
    for (const [key, parts] of model) expect(Buffer.from(await store.get(key)).equals(Buffer.concat(parts))).toBe(true);
  });

  it('gives back the disk budget of deleted, popped and dropped keys', async () => {
    const { slow, store } = stack({ availableMemory: 1000, maxDiskBytes: 1500 });
    await store.append({ a: value(1, 900) });
    await store.append({ b: value(2, 200) }); // a spills
    expect(store.spilledBytes).toBe(900);
    await expect(store.append({ c: value(3, 1000) })).rejects.toMatchObject({ code: 'ERR_DISK_FULL' });
    await store.delete(['a']);
    expect(store.spilledBytes).toBe(0);
    await store.append({ c: value(3, 1000) }); // c spills now that a's bytes are free
    expect(store.spilledBytes).toBe(await realBytes(slow));
    expect((await store.pop('c')).byteLength).toBe(1000);
    expect(store.spilledBytes).toBe(0);
    await store.append({ x: value(4, 1200) });
    expect(store.spilledBytes).toBe(1200);
    await store.drop();
    expect(store.spilledBytes).toBe(0);
    await store.append({ y: value(5, 1400) });
    expect(Buffer.from(await store.get('y')).equals(value(5, 1400))).toBe(true);
  });
});

// ---------------------------------------------------------------- close and reopen

describe('buffer(): close flushes memory to the slow store', () => {
  it('so that reopening buffer(dict(), file(dir)) finds every value in order', async () => {
    const dir = tempDir();
    const rnd = random(11);
    const model = new Map<string, Buffer[]>();
    const first = buffer(dict(), file(dir), { availableMemory: 8000 });
    let tag = 0;
    for (let i = 0; i < 200; i++) {
      const key = `key-${rnd.int(0, 39)}`;
      const v = value(tag++, rnd.int(1, 500));
      await first.append({ [key]: v });
      model.set(key, [...(model.get(key) ?? []), v]);
    }
    await first.iset('schema', Buffer.from('v1'));
    expect(first.spilledBytes).toBeGreaterThan(0); // some on disk…
    expect(first.memoryUsage).toBeGreaterThan(0); // …and some only in memory
    await first.close();

    const second = buffer(dict(), file(dir), { availableMemory: 8000 });
    expect(((await second.keys()) as string[]).sort()).toEqual([...model.keys()].sort());
    for (const [key, parts] of model) expect(Buffer.from(await second.get(key)).equals(Buffer.concat(parts)), key).toBe(true);
    expect(Buffer.from(await second.iget('schema')).toString()).toBe('v1');
    // Appends after reopening go after what was there.
    for (const key of model.keys()) {
      const v = value(tag++, 30);
      await second.append({ [key]: v });
      model.get(key)!.push(v);
    }
    await second.close();

    const plain = file(dir);
    for (const [key, parts] of model) expect(Buffer.from(await plain.get(key)).equals(Buffer.concat(parts)), key).toBe(true);
    await plain.close();
  });

  it('refuses use after close with ERR_CLOSED', async () => {
    const store = buffer(dict(), dict(), { availableMemory: 100 });
    await store.append({ a: value(1, 10) });
    await store.close();
    await store.close(); // twice is harmless
    await expect(store.append({ a: value(1, 10) })).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(store.get('a')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

describe('buffer(): withLock', () => {
  it('holds the slow store\'s lock too, so over file() another opener of the directory waits for the section', async () => {
    const dir = tempDir();
    const buffered = buffer(dict(), file(dir), { availableMemory: 1 << 20 });
    const other = file(dir);
    const events: string[] = [];
    const section = buffered.withLock(async () => {
      await buffered.append({ k: Buffer.from('a') });
      await buffered.flush();
      await new Promise((resolve) => setTimeout(resolve, 200));
      events.push('section done');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const outside = other.append({ k: Buffer.from('b') }).then(() => void events.push('other process appended'));
    await Promise.all([section, outside]);
    expect(events).toEqual(['section done', 'other process appended']);
    await buffered.close();
    await other.close();
    expect(Buffer.from(await file(dir).get('k')).toString()).toBe('ab');
  });
});
