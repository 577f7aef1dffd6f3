/**
 * The wrapper base: every wrapping layer takes any object with the Store
 * methods, not only laminate's own stores, and refuses anything else the same
 * way. A minimal Store written from scratch here (a Map and a re-entrant lock)
 * runs the whole conformance suite under zstd() and msgpack().
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { type AppendData, type Key, type Store, type StoreSpec, brotli, dict, file, gzip, lz4, msgpack, zlib, zstd, encode } from '@laminate/core';
import { registerLayer, frame } from '@laminate/core/layer';
import { bytesValues, conformance, recordValues, rejection, thrown } from '@laminate/core/testing';

/** A Store that owes laminate nothing: its own key normalization, its own lock. */
class HandmadeStore implements Store<Uint8Array> {
  private readonly data = new Map<string, Uint8Array[]>();
  private readonly meta = new Map<string, Uint8Array>();
  private tail: Promise<unknown> = Promise.resolve();
  private readonly holding = new AsyncLocalStorage<boolean>();
  private open = true;
  calls = 0;

  private name(key: Key): string {
    return JSON.stringify(typeof key === 'string' ? key : key.map(String));
  }

  private unname(name: string): Key {
    return JSON.parse(name) as Key;
  }

  private guard(): void {
    this.calls++;
    if (!this.open) throw new Error('handmade store is closed');
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.holding.getStore()) return fn();
    const run = this.tail.then(() => this.holding.run(true, fn));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async append(data: AppendData<Uint8Array>): Promise<void> {
    this.guard();
    const pairs: [Key, Uint8Array][] = Symbol.iterator in data ? [...(data as Iterable<[Key, Uint8Array]>)] : Object.entries(data);
    await this.withLock(async () => {
      for (const [key, value] of pairs) {
        const name = this.name(key);
        this.data.set(name, [...(this.data.get(name) ?? []), Buffer.from(value)]);
      }
    });
  }

  async get(key: Key): Promise<Uint8Array> {
    return (await this.getMany([key]))[0];
  }

  async getMany(keys: readonly Key[]): Promise<Uint8Array[]> {
    this.guard();
    return this.withLock(async () => keys.map((key) => Buffer.concat(this.data.get(this.name(key)) ?? [])));
  }

  async *iter(key: Key): AsyncIterable<Uint8Array> {
    this.guard();
    yield* this.data.get(this.name(key)) ?? [];
  }

  async iset(key: Key, value: Uint8Array): Promise<void> {
    this.guard();
    if (!this.meta.has(this.name(key))) this.meta.set(this.name(key), Buffer.from(value));
  }

  async iget(key: Key): Promise<Uint8Array> {
    this.guard();
    return this.meta.get(this.name(key)) ?? Buffer.alloc(0);
  }

  async delete(keys: readonly Key[]): Promise<void> {
    this.guard();
    await this.withLock(async () => keys.forEach((key) => this.data.delete(this.name(key))));
  }

  async pop(key: Key): Promise<Uint8Array> {
    return this.withLock(async () => {
      const value = await this.get(key);
      await this.delete([key]);
      return value;
    });
  }

  async keys(): Promise<Key[]> {
    this.guard();
    return [...this.data.keys()].map((name) => this.unname(name));
  }

  async drop(): Promise<void> {
    this.guard();
    this.data.clear();
    this.meta.clear();
  }

  describe(): StoreSpec {
    return { type: 'handmade' };
  }

  async close(): Promise<void> {
    this.open = false;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

registerLayer('handmade', { open: () => zstd(new HandmadeStore()).inner });

conformance('zstd(a hand-written Store)', { make: () => zstd(new HandmadeStore()), values: bytesValues });
conformance('msgpack(lz4(a hand-written Store))', { make: () => msgpack(lz4(new HandmadeStore())), values: recordValues });

describe('wrapping layers', () => {
  it('work through the hand-written store’s own methods, and describe it by its own spec', async () => {
    const inner = new HandmadeStore();
    const store = msgpack(zstd(inner));
    await store.append([[['t', 1], [{ a: 1 }]]]);
    await store.append({ plain: ['x'] });
    expect(await store.get(['t', '1'])).toEqual([{ a: 1 }]);
    expect(inner.calls).toBeGreaterThan(0);
    expect(await inner.keys()).toEqual([['t', '1'], 'plain']);
    expect(store.describe()).toEqual({ type: 'msgpack', inner: { type: 'zstd', level: 3, inner: { type: 'handmade' } } });
    await store.close();
    expect((await rejection(inner.get('plain'))).message).toBe('handmade store is closed');
  });

  it('refuse what is not a store with ERR_INVALID_OPTION, a TypeError, naming the layer', () => {
    const layers = { zlib, gzip, brotli, lz4, zstd, msgpack, custom: (inner: never) => encode({ encode: (v: Uint8Array) => v, decode: (v) => v, join: (v) => Buffer.concat(v) }, inner) };
    for (const [name, layer] of Object.entries(layers)) {
      for (const bad of [undefined, null, 42, 'file(/tmp/x)', {}, { append() {} }]) {
        const error = thrown(() => layer(bad as never));
        expect(error, `${name}(${String(bad)})`).toBeInstanceOf(TypeError);
        expect(error.code).toBe('ERR_INVALID_OPTION');
        expect(error.message).toMatch(new RegExp(`^${name === 'custom' ? 'encode' : name}\\(\\) wraps a store of bytes`));
      }
    }
    expect(() => zstd({ append() {} } as never)).toThrow(/lacks getMany, iter, iset, iget, delete, keys, drop, withLock, describe, close/);
  });

  it('repair a torn last frame in the hand-written store too', async () => {
    const inner = new HandmadeStore();
    const store = zstd(inner);
    await store.append({ k: Buffer.from('whole') });
    await inner.append({ k: frame(Buffer.from('torn')).subarray(0, 6) });
    expect((await rejection(store.get('k'))).code).toBe('ERR_CORRUPT_FRAME');
    expect(await store.repair('k')).toBe(6);
    expect(Buffer.from(await store.get('k')).toString()).toBe('whole');
  });

  it('keep describe() as { type, options, inner } over laminate stores', () => {
    expect(zstd(dict(), { level: 7 }).describe()).toEqual({ type: 'zstd', level: 7, inner: { type: 'dict' } });
    const dir = file();
    expect(msgpack(dir, { records: true }).describe()).toEqual({ type: 'msgpack', records: true, inner: dir.describe() });
    return dir.close();
  });
});
