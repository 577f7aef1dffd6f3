/**
 * The conformance suite: one set of tests every store stack runs, whatever its
 * layers. A stack says what it lacks in `supports`; everything else it must do
 * exactly as the Store contract says.
 *
 *   import { conformance, bytesValues } from '@laminate/core/testing';
 *   conformance('zlib(file)', { make: (dir) => zlib(file(dir)), values: bytesValues });
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LaminateError } from '../errors.js';
import type { Key } from '../keys.js';
import { open } from '../index.js';
import type { BaseStore, Store, Supports } from '../store.js';

export { seededRandom } from '../random.js';

/** How the suite makes values for a layer, and what `get` should return for them. */
export interface Values<V> {
  /** A value distinct for each (n, variant). */
  make(n: number, variant?: number): V;
  /** What `get` returns after appending `values` in order. */
  joined(values: V[]): V;
  /** Values the layer must refuse with ERR_VALUE_TYPE. */
  wrong: unknown[];
  /** A value of about `bytes` bytes. */
  large(bytes: number): V;
  /** What the suite compares, when V itself does not compare well (an Arrow Table: its rows). */
  comparable?(value: V): unknown;
}

export interface StackUnderTest<V> {
  /** Builds the stack; `dir` is an empty directory the test owns. What it promises beyond the contract is its own `supports`. */
  make(dir: string): BaseStore<V>;
  values: Values<V>;
}

/** Values for bytes → bytes layers: text-like bytes, so compressors have work to do. */
export const bytesValues: Values<Uint8Array> = {
  make: (n, variant = 0) => Buffer.from(`value ${n}/${variant} ${'abcdefgh'.repeat((n % 7) + 1)}|`),
  joined: (values) => Buffer.concat(values),
  wrong: ['text', 42, null, undefined, { a: 1 }, [1, 2], new ArrayBuffer(4)],
  large: (bytes) => {
    const out = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) out[i] = (i * 7 + (i >> 10)) & 0xff;
    return out;
  },
};

/** Values for msgpack layers: arrays of records and scalars. */
export const recordValues: Values<unknown[]> = {
  make: (n, variant = 0) => [{ n, variant, name: `record-${n}`, tags: ['a', n % 3] }, n * 1.5, `s${n}`],
  joined: (values) => values.flat(1),
  wrong: ['text', 42, null, { a: 1 }, Buffer.from('x')],
  large: (bytes) => Array.from({ length: Math.ceil(bytes / 100) }, (_, i) => ({ i, text: 'x'.repeat(90) })),
};

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

function sortedKeys(keys: Key[]): string[] {
  return keys.map((k) => JSON.stringify(k)).sort();
}

/** Deep equality, with a fast path for bytes (element-wise comparison of megabytes is slow). */
/** expectSame() as a question. */
function matches(actual: unknown, expected: unknown): boolean {
  try {
    expectSame(actual, expected);
    return true;
  } catch {
    return false;
  }
}

function expectSame(actual: unknown, expected: unknown): void {
  if (actual instanceof Uint8Array && expected instanceof Uint8Array) {
    expect(actual.byteLength).toBe(expected.byteLength);
    expect(Buffer.compare(actual, expected)).toBe(0);
  } else {
    expect(actual).toEqual(expected);
  }
}

/** The error a call rejects with; fails the test when it resolves instead. */
export async function rejection(promise: Promise<unknown>): Promise<LaminateError> {
  try {
    await promise;
  } catch (error) {
    return error as LaminateError;
  }
  throw new Error('expected the call to reject, but it resolved');
}

/** The error a synchronous call throws; fails the test when it returns instead. */
export function thrown(call: () => unknown): LaminateError {
  try {
    call();
  } catch (error) {
    return error as LaminateError;
  }
  throw new Error('expected the call to throw, but it returned');
}

/**
 * A maker of temporary directories (`prefix` then random characters, in the
 * system's temporary folder), each removed by the hook given: afterEach, or
 * afterAll for directories a whole file or describe block shares.
 *
 * Call it before registering the hooks that close what lives in its
 * directories: vitest runs after-hooks in reverse order of registration
 * (sequence.hooks "stack", the default), so those close first and the
 * directories go last.
 */
export function tempDirs(prefix: string, removeAfter: (cleanup: () => void) => void = afterEach): () => string {
  const dirs: string[] = [];
  removeAfter(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** What a stack promises, read from a store it builds (closed after the file's tests, then removed). */
function supportsOf<V>(stack: StackUnderTest<V>): Supports {
  const probe = stack.make(tempDirs('laminate-conformance-', afterAll)());
  afterAll(() => probe.close());
  return probe.supports;
}

export function conformance<V>(name: string, stack: StackUnderTest<V>): void {
  const supports = supportsOf(stack);
  const { values } = stack;
  const v = (n: number, variant?: number) => values.make(n, variant);
  const view = (value: V): unknown => (values.comparable ? values.comparable(value) : value);
  const same = (actual: V, expected: V) => expectSame(view(actual), view(expected));
  const sameEach = (actual: V[], expected: V[]) => expect(actual.map(view)).toEqual(expected.map(view));

  describe(`conformance: ${name}`, () => {
    const tempDir = tempDirs('laminate-conformance-'); // before the afterEach below: stores close, then their directories go
    const stores: Store<V>[] = [];
    const fresh = (): BaseStore<V> => {
      const store = stack.make(tempDir());
      stores.push(store);
      return store;
    };
    const reopen = async (store: BaseStore<V>): Promise<BaseStore<V>> => {
      const spec = JSON.parse(JSON.stringify(store.describe()));
      await store.close();
      const again = open(spec) as BaseStore<V>;
      stores.push(again);
      return again;
    };

    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
    });

    it('returns the empty value for a key never written', async () => {
      const store = fresh();
      const empty = store.empty();
      same(await store.get('missing'), empty);
      sameEach(await store.getMany(['a', ['b', 'c']]), [empty, empty]);
      expect(await collect(store.iter('missing'))).toEqual([]);
      same(await store.iget('missing'), empty);
      expect(await store.keys()).toEqual([]);
    });

    it('keeps append order across many appends and keys', async () => {
      const store = fresh();
      const expected: Record<string, V[]> = { a: [], b: [], c: [] };
      for (let n = 0; n < 120; n++) {
        const batch: [string, V][] = [];
        for (const key of ['a', 'b', 'c']) {
          if ((n + key.charCodeAt(0)) % 3 === 0) continue;
          batch.push([key, v(n, key.charCodeAt(0))]);
          expected[key].push(v(n, key.charCodeAt(0)));
        }
        await store.append(batch);
      }
      same(await store.get('a'), values.joined(expected.a));
      sameEach(await store.getMany(['c', 'b']), [values.joined(expected.c), values.joined(expected.b)]);
    });

    it('takes an object, a Map or an array of pairs, and the same key twice in one call', async () => {
      const store = fresh();
      await store.append({ x: v(1) });
      await store.append(new Map([['x', v(2)]]));
      await store.append([
        ['x', v(3)],
        ['x', v(4)],
      ]);
      same(await store.get('x'), values.joined([v(1), v(2), v(3), v(4)]));
    });

    it('nests tuple keys and normalizes them', async () => {
      const store = fresh();
      await store.append([
        [['a', 'b'], v(1)],
        [['a', 1], v(2)],
        ['a', v(3)],
        [['x'], v(4)],
        [['a', 'b', 'c'], v(5)],
      ]);
      await store.append([[['a', '1'], v(6)]]);
      same(await store.get(['a', 'b']), values.joined([v(1)]));
      same(await store.get(['a', '1']), values.joined([v(2), v(6)]));
      same(await store.get('a'), values.joined([v(3)]));
      same(await store.get('x'), values.joined([v(4)]));
      same(await store.get(['a', 'b', 'c']), values.joined([v(5)]));
      expect(sortedKeys(await store.keys())).toEqual(sortedKeys([['a', 'b'], ['a', '1'], 'a', 'x', ['a', 'b', 'c']]));
    });

    it('lists user keys only, never metadata', async () => {
      const store = fresh();
      await store.append({ one: v(1), two: v(2), '': v(3), '.hidden': v(4) });
      await store.iset('meta', v(9));
      expect(sortedKeys(await store.keys())).toEqual(sortedKeys(['one', 'two', '', '.hidden']));
      same(await store.get('.hidden'), values.joined([v(4)]));
      same(await store.get(''), values.joined([v(3)]));
    });

    it('deletes keys and starts them afresh', async () => {
      const store = fresh();
      await store.append({ a: v(1), b: v(2), c: v(3) });
      await store.delete(['a', 'c', 'never-written']);
      same(await store.get('a'), store.empty());
      same(await store.get('b'), values.joined([v(2)]));
      expect(sortedKeys(await store.keys())).toEqual(sortedKeys(['b']));
      await store.append({ a: v(4) });
      same(await store.get('a'), values.joined([v(4)]));
    });

    it('pops a key: its value, then nothing', async () => {
      const store = fresh();
      await store.append({ a: v(1) });
      await store.append({ a: v(2), b: v(3) });
      same(await store.pop('a'), values.joined([v(1), v(2)]));
      same(await store.get('a'), store.empty());
      same(await store.pop('a'), store.empty());
      expect(sortedKeys(await store.keys())).toEqual(sortedKeys(['b']));
    });

    it('drops everything and stays usable', async () => {
      const store = fresh();
      await store.append({ a: v(1), b: v(2) });
      await store.iset('m', v(3));
      await store.drop();
      expect(await store.keys()).toEqual([]);
      same(await store.get('a'), store.empty());
      same(await store.iget('m'), store.empty());
      await store.append({ a: v(4) });
      same(await store.get('a'), values.joined([v(4)]));
    });

    it('keeps the first iset value', async () => {
      const store = fresh();
      await store.iset('dtype', v(1));
      await store.iset('dtype', v(2));
      await store.iset(['t', 'm'], v(3));
      same(await store.iget('dtype'), values.joined([v(1)]));
      same(await store.iget(['t', 'm']), values.joined([v(3)]));
      same(await store.get('dtype'), store.empty());
    });

    it('iterates the values of a key in order', async () => {
      const store = fresh();
      const appended = [v(1), v(2), v(3), v(4)];
      for (const value of appended) await store.append({ k: value });
      const chunks = await collect(store.iter('k'));
      same(values.joined(chunks), values.joined(appended));
      if (supports.iterChunks) sameEach(chunks, appended);
    });

    it('follows a key: what it holds, then each append as it lands, in order, until it is sealed (where it can be)', async () => {
      const store = fresh();
      const appended = [v(1), v(2), v(3), v(4)];
      await store.append({ k: appended[0] });
      // Stores that keep no seals refuse seal(); their followers end by a signal instead.
      const controller = new AbortController();
      const follower = store.follow('k', { signal: controller.signal });
      const seen: V[] = [];
      const reading = (async () => {
        for await (const value of follower) seen.push(value);
      })();
      const ended = reading.then(
        () => undefined,
        (error: unknown) => error,
      );
      for (const value of appended.slice(1)) await store.append({ k: value });
      const outcome = await store.seal('k').then(
        () => undefined,
        (error: unknown) => error,
      );
      const notSupported = (error: unknown) => error instanceof LaminateError && error.code === 'ERR_NOT_SUPPORTED';
      if (outcome !== undefined) {
        expect(notSupported(outcome)).toBe(true);
        // Unsealed: wait until every value has arrived (or the follower failed), then end it.
        const arrived = () => matches(view(values.joined(seen)), view(values.joined(appended)));
        let failed = false;
        void ended.then((error) => (failed = error !== undefined));
        while (!arrived() && !failed) await new Promise((resolve) => setTimeout(resolve, 5));
        controller.abort();
      }
      const error = await ended;
      // A layer that cannot be followed says so; the others read every value once, in order.
      if (notSupported(error)) return;
      if (outcome === undefined) expect(error).toBeUndefined();
      // Joined: a bytes store's follower yields its bytes in pieces, which need not be the appends.
      same(values.joined(seen), values.joined(appended));
      if (outcome === undefined) expect(await collect(store.follow('k', { from: follower.position }))).toEqual([]);
    });

    it('ends a follower that is behind a seal at the seal, though more was appended after it', async () => {
      const store = fresh();
      const notSupported = (error: unknown) => error instanceof LaminateError && error.code === 'ERR_NOT_SUPPORTED';
      // Only where seals are kept: a store that keeps none says so for any key.
      const probe = await store.seal('probe').then(
        () => undefined,
        (error: unknown) => error,
      );
      if (probe !== undefined) return void expect(notSupported(probe)).toBe(true);
      await store.append({ k: v(1) });
      await store.append({ k: v(2) });
      const seen: V[] = [];
      const follower = store.follow('k');
      try {
        for await (const value of follower) {
          seen.push(value);
          // While the follower holds its first value (or piece), the key is sealed and then grows past the seal.
          if (seen.length === 1) {
            await store.seal('k');
            await store.append({ k: v(3) });
          }
        }
      } catch (error) {
        if (notSupported(error)) return;
        throw error;
      }
      expect(follower.endedBy).toBe('sealed');
      same(values.joined(seen), values.joined([v(1), v(2)]));
      same(await store.get('k'), values.joined([v(1), v(2), v(3)]));
    });

    it('loses nothing under hundreds of concurrent appends, in call order', async () => {
      const store = fresh();
      const expected: V[][] = Array.from({ length: 10 }, () => []);
      const calls: Promise<void>[] = [];
      for (let n = 0; n < 400; n++) {
        const k = n % 10;
        expected[k].push(v(n));
        calls.push(store.append({ [`k${k}`]: v(n) }));
      }
      await Promise.all(calls);
      const got = await store.getMany(expected.map((_, k) => `k${k}`));
      got.forEach((value, k) => same(value, values.joined(expected[k])));
    });

    it('round-trips a large value and an empty one', async () => {
      const store = fresh();
      const big = values.large(3 << 20);
      await store.append({ big, tiny: v(1) });
      await store.append({ big: v(2) });
      same(await store.get('big'), values.joined([big, v(2)]));
      same(await store.get('tiny'), values.joined([v(1)]));
    });

    it('rejects values of the wrong type with ERR_VALUE_TYPE, storing nothing from the call', async () => {
      const store = fresh();
      await store.append({ kept: v(1) });
      for (const wrong of values.wrong) {
        const error = await rejection(store.append([['kept', v(2)], ['bad', wrong as V]]));
        expect(error).toBeInstanceOf(LaminateError);
        expect(error).toBeInstanceOf(TypeError);
        expect(error.code).toBe('ERR_VALUE_TYPE');
        expect(error.message).toContain('bad');
      }
      same(await store.get('kept'), values.joined([v(1)]));
      same(await store.get('bad'), store.empty());
      expect(sortedKeys(await store.keys())).toEqual(sortedKeys(['kept']));
    });

    it('rejects invalid keys with ERR_INVALID_KEY', async () => {
      const store = fresh();
      for (const key of [[], [null], [{}], 5, null, [['nested']], [Number.NaN]]) {
        const error = await rejection(store.append([[key as Key, v(1)]]));
        expect(error.code).toBe('ERR_INVALID_KEY');
        expect((await rejection(store.get(key as Key))).code).toBe('ERR_INVALID_KEY');
      }
      expect(await store.keys()).toEqual([]);
    });

    it('makes exclusive sections with withLock, re-entrant for the holder', async () => {
      const store = fresh();
      const events: string[] = [];
      const section = store.withLock(async () => {
        await store.append({ k: v(1) });
        await new Promise((r) => setTimeout(r, 40));
        events.push('inside');
      });
      await new Promise((r) => setTimeout(r, 5));
      const outside = store.append({ k: v(2) }).then(() => void events.push('outside'));
      await Promise.all([section, outside]);
      expect(events).toEqual(['inside', 'outside']);
      same(await store.get('k'), values.joined([v(1), v(2)]));
    });

    it('describes itself as JSON that open() rebuilds', async () => {
      const store = fresh();
      const spec = store.describe();
      expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
      await store.close();
      const twin = open(spec);
      stores.push(twin as BaseStore<V>);
      expect(twin.describe()).toEqual(spec);
    });

    it('refuses calls after close with ERR_CLOSED; closing twice is harmless', async () => {
      const store = fresh();
      await store.append({ a: v(1) });
      await store[Symbol.asyncDispose]();
      await store.close();
      expect((await rejection(store.get('a'))).code).toBe('ERR_CLOSED');
      expect((await rejection(store.append({ a: v(2) }))).code).toBe('ERR_CLOSED');
      expect((await rejection(store.keys())).code).toBe('ERR_CLOSED');
    });

    if (supports.reopen) {
      it('finds every value, iset first-wins and order after reopening', async () => {
        let store = fresh();
        await store.append({ a: v(1), [JSON.stringify(['odd'])]: v(2) });
        await store.append([[['t', 'u'], v(3)]]);
        await store.iset('meta', v(7));
        store = await reopen(store);
        await store.append({ a: v(4) });
        await store.iset('meta', v(8));
        same(await store.get('a'), values.joined([v(1), v(4)]));
        same(await store.get(['t', 'u']), values.joined([v(3)]));
        same(await store.iget('meta'), values.joined([v(7)]));
        store = await reopen(store);
        same(await store.get('a'), values.joined([v(1), v(4)]));
        expect(sortedKeys(await store.keys())).toEqual(sortedKeys(['a', JSON.stringify(['odd']), ['t', 'u']]));
      });
    } else {
      it('starts empty when reopened, as its supports manifest says (reopen: false)', async () => {
        let store = fresh();
        await store.append({ a: v(1) });
        await store.iset('meta', v(7));
        store = await reopen(store);
        expect(await store.keys()).toEqual([]);
        same(await store.iget('meta'), store.empty());
      });
    }
  });
}
