import { unsealInMemory } from './follow.js';
import type { KeyId } from './keys.js';
import { type Consumer, MemoryConsumers, pastEnd, trimTarget, trimmedError } from './retention.js';
import { BytesStore, EMPTY_BYTES, type IdRange, type OpOptions, type StoreSpec, type Supports } from './store.js';

import { registerLayer } from './spec.js';
/**
 * The bytes under one key: chunks, collapsed into one on read, and each
 * appended value's length. Small values are copied into a block the key owns
 * (`block`, of which `fill` bytes are used), not each into an allocation of
 * its own: a shuffle appends millions of them. The block grows (copied into
 * one half as large again) up to MAX_BLOCK, so a key of small values up to
 * that size is one piece of memory and its get a view, with no join.
 */
interface Entry {
  chunks: Uint8Array[];
  block: Buffer | undefined;
  fill: number;
  lengths: number[];
  size: number;
}

/** dict()'s sections never call back into the store, so they need no re-entrancy context. */
const OWN = { reentrant: false } as const;

/** Values up to this size are packed into their key's block. */
const PACK_LIMIT = 1024;
/**
 * A new block holds a quarter of what the key holds, within these bounds; a
 * full block below MAX_BLOCK grows by half instead of being ended, so at most
 * a third of a block (and of a key up to MAX_BLOCK) is spare.
 */
const MIN_BLOCK = 256;
const MAX_BLOCK = 64 * 1024;

/** Room for `length` more bytes in the key's block: grown while small, else a new one (the full one ends). */
function roomFor(entry: Entry, length: number): Buffer {
  const block = entry.block;
  if (block !== undefined && entry.fill + length <= block.length) return block;
  if (block !== undefined && block.length < MAX_BLOCK) {
    // Views handed out of the old block (get, readRange) keep its bytes: the old block is left as it is.
    const grown = Buffer.allocUnsafe(Math.max(entry.fill + length, Math.min(MAX_BLOCK, Math.ceil(block.length * 1.5))));
    grown.set(block.subarray(0, entry.fill));
    return (entry.block = grown);
  }
  seal(entry);
  return (entry.block = Buffer.allocUnsafe(Math.max(length, MIN_BLOCK, Math.min(MAX_BLOCK, entry.size >>> 2))));
}

/** Ends the key's block: its used part becomes the last chunk. */
function seal(entry: Entry): void {
  if (entry.block === undefined) return;
  if (entry.fill > 0) entry.chunks.push(entry.block.subarray(0, entry.fill));
  entry.block = undefined;
  entry.fill = 0;
}

/** `length` bytes of `entry` from `offset` (fewer where it ends): its chunks, then the used part of its block. */
function readChunks(entry: Entry | undefined, offset: number, length: number): Uint8Array {
  if (entry === undefined || offset >= entry.size || length === 0) return EMPTY_BYTES;
  const end = Math.min(entry.size, offset + length);
  const parts: Uint8Array[] = [];
  let at = 0;
  const take = (chunk: Uint8Array) => {
    const from = Math.max(offset, at);
    const to = Math.min(end, at + chunk.byteLength);
    if (from < to) parts.push(chunk.subarray(from - at, to - at));
    at += chunk.byteLength;
  };
  for (const chunk of entry.chunks) {
    if (at >= end) break;
    if (at + chunk.byteLength > offset) take(chunk);
    else at += chunk.byteLength;
  }
  // Bytes appended to the block later go past `fill`: a view of its used part stays as it is.
  if (at < end && entry.block !== undefined) take(entry.block.subarray(0, entry.fill));
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * dict(): bytes in memory. Appended values are copied, so the caller may reuse
 * its buffers, unless the append says `{ transfer: true }`: then each value is
 * kept by reference, as partd keeps Python bytes (layers above transfer the
 * frames they build; a caller that does promises never to change the buffer
 * again). `get` returns a view the store owns (copy it before changing it).
 */
export class DictStore extends BytesStore {
  protected readonly layer = 'dict';
  private readonly data = new Map<KeyId, Entry>();
  private readonly meta = new Map<KeyId, Uint8Array>();
  /** Where trimmed keys start (retention.ts); a key not here starts at 0. */
  private readonly starts = new Map<KeyId, number>();
  private readonly registered = new MemoryConsumers();

  /** Bytes held under `id` (0 for a missing key). */
  sizeOf(id: KeyId): number {
    return this.data.get(id)?.size ?? 0;
  }

  /** True when `id` was appended to (even with no bytes) and not deleted since. */
  hasId(id: KeyId): boolean {
    return this.data.has(id);
  }

  /** How many keys are held. */
  get keyCount(): number {
    return this.data.size;
  }

  /** Each key held with its size in bytes (buffer() spills by these, keeping no sizes of its own). */
  *sizeEntries(): IterableIterator<[KeyId, number]> {
    for (const [id, entry] of this.data) yield [id, entry.size];
  }

  /** Each key's size is kept beside its bytes: no read, no lock. */
  override sizeIds(ids: readonly KeyId[]): Promise<number[]> {
    return Promise.resolve(ids.map((id) => this.sizeOf(id)));
  }

  appendIds(ids: readonly KeyId[], values: readonly Uint8Array[], opts?: OpOptions): Promise<void> {
    const transfer = opts?.transfer === true;
    return this.lock.run(() => {
      for (let i = 0; i < ids.length; i++) {
        const value = values[i];
        const length = value.byteLength;
        let entry = this.data.get(ids[i]);
        if (!entry) this.data.set(ids[i], (entry = { chunks: [], block: undefined, fill: 0, lengths: [], size: 0 }));
        if (transfer) {
          seal(entry);
          entry.chunks.push(value);
        } else if (length <= PACK_LIMIT) {
          roomFor(entry, length).set(value, entry.fill);
          entry.fill += length;
        } else {
          seal(entry);
          const copy = Buffer.allocUnsafe(length);
          copy.set(value);
          entry.chunks.push(copy);
        }
        entry.lengths.push(length);
        entry.size += length;
      }
    }, OWN);
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    return this.lock.run(() => ids.map((id) => this.joined(id)), OWN);
  }

  /**
   * Copies the first `length` bytes `id` holds (fewer where it ends) into
   * `target` at `at`, piece by piece, without joining the key's pieces into
   * memory of their own as get() does; how many it copied. buffer()'s
   * getView() puts a key's bytes in memory after its spilled ones this way.
   */
  copyIdInto(id: KeyId, target: Uint8Array, at: number, length: number): number {
    const entry = this.data.get(id);
    if (entry === undefined) return 0;
    let copied = 0;
    const copy = (piece: Uint8Array) => {
      const n = Math.min(piece.byteLength, length - copied);
      target.set(n === piece.byteLength ? piece : piece.subarray(0, n), at + copied);
      copied += n;
    };
    for (const chunk of entry.chunks) {
      if (copied === length) return copied;
      copy(chunk);
    }
    if (entry.block !== undefined && copied < length) copy(entry.block.subarray(0, entry.fill));
    return copied;
  }

  private joined(id: KeyId): Uint8Array {
    const entry = this.data.get(id);
    if (!entry) return EMPTY_BYTES;
    // All in the block: a view of its used part, which later appends (past `fill`, or into a grown copy) leave as it is.
    if (entry.chunks.length === 0) return entry.block === undefined ? EMPTY_BYTES : entry.block.subarray(0, entry.fill);
    seal(entry);
    if (entry.chunks.length > 1) entry.chunks = [Buffer.concat(entry.chunks, entry.size)];
    return entry.chunks[0] ?? EMPTY_BYTES;
  }

  /**
   * Reads each range from the key's chunks as they lie, without joining the
   * key: a follower reads a growing key a piece at a time, and joining it
   * for each piece would copy it all again. A range inside one chunk is a
   * view, as get() returns.
   */
  override readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return this.lock.run(() => ranges.map(({ id, offset, length }) => readChunks(this.data.get(id), offset, length)), OWN);
  }

  /** Memory of this process: gone on reopen; each appended value kept as it came. */
  override get supports(): Supports {
    return { reopen: false, iterChunks: true };
  }

  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    const [whole, lengths] = await this.lock.run(() => [this.joined(id), this.data.get(id)?.lengths.slice() ?? []] as const);
    let offset = 0;
    for (const length of lengths) {
      yield whole.subarray(offset, offset + length);
      offset += length;
    }
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.lock.run(() => {
      for (const id of ids) {
        this.data.delete(id);
        this.starts.delete(id);
      }
      unsealInMemory(this, ids); // a key written again is a new stream (follow.ts)
      this.registered.clear(ids);
    }, OWN);
  }

  // Retention (retention.ts): starts and consumers in this process's memory, as the data is.

  override startId(id: KeyId): Promise<number> {
    return Promise.resolve(this.starts.get(id) ?? 0);
  }

  /** The start and the read in one section, so that a trim cannot fall between them. */
  override readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    return this.lock.run(() => {
      const start = this.starts.get(id) ?? 0;
      if (offset < start) throw trimmedError(id, start, offset);
      return readChunks(this.data.get(id), offset - start, max);
    }, OWN);
  }

  override commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    return this.lock.run(() => {
      const start = this.starts.get(id) ?? 0;
      const length = start + this.sizeOf(id);
      if (position > length) throw pastEnd(id, position, length);
      // Below the start is the start: nothing before it is left to take.
      this.registered.commit(id, consumer, Math.max(position, start));
    }, OWN);
  }

  override consumersId(id: KeyId): Promise<Consumer[]> {
    return Promise.resolve(this.registered.list(id));
  }

  override forgetId(id: KeyId, consumer: string): Promise<void> {
    this.registered.forget(id, consumer);
    return Promise.resolve();
  }

  /** Keeps a copy of the bytes from the new start, so that the dropped ones are freed; a value cut by the start counts its rest. */
  override trimId(id: KeyId, position?: number): Promise<void> {
    return this.lock.run(() => {
      const start = this.starts.get(id) ?? 0;
      const to = trimTarget(id, position, start, start + this.sizeOf(id), this.registered.list(id));
      const entry = this.data.get(id);
      if (to === undefined || entry === undefined) return;
      const rest = Buffer.from(this.joined(id).subarray(to - start));
      entry.chunks = rest.byteLength > 0 ? [rest] : [];
      entry.block = undefined;
      entry.fill = 0;
      entry.size = rest.byteLength;
      let dropped = to - start;
      let whole = 0;
      while (whole < entry.lengths.length && entry.lengths[whole] <= dropped) dropped -= entry.lengths[whole++];
      entry.lengths.splice(0, whole);
      if (dropped > 0) entry.lengths[0] -= dropped;
      this.starts.set(id, to);
    }, OWN);
  }

  listIds(): Promise<KeyId[]> {
    return this.lock.run(() => [...this.data.keys()]);
  }

  isetId(id: KeyId, value: Uint8Array): Promise<void> {
    return this.lock.run(() => {
      if (!this.meta.has(id)) this.meta.set(id, Buffer.from(value));
    });
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.lock.run(() => this.meta.get(id));
  }

  protected async dropAll(): Promise<void> {
    this.data.clear();
    this.meta.clear();
    this.starts.clear();
    unsealInMemory(this);
    this.registered.clear();
  }

  protected async closeStore(): Promise<void> {
    this.data.clear();
    this.meta.clear();
  }

  describe(): StoreSpec {
    return { type: 'dict' };
  }
}

export function dict(): DictStore {
  return new DictStore();
}

registerLayer('dict', { open: () => dict() });
