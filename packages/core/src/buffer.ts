import { LaminateError, typeError } from './errors.js';
import { type Key, type KeyId, keyId } from './keys.js';
import { Scratch, checkReadTarget, tooLargeForTarget } from './reused-reads.js';
import { type Consumer, trimmedError } from './retention.js';
import { registerLayer } from './spec.js';
import { DictStore } from './dict.js';
import { type BaseStore, BytesStore, type IdRange, type OpOptions, type StoreSpec, type Supports, EMPTY_BYTES, concatBytes, readRangeIds } from './store.js';

export interface BufferOptions {
  /** Bytes to hold in the fast store before spilling to the slow one. */
  availableMemory: number;
  /**
   * Keep at most this many bytes in the slow store (what this buffer spilled
   * and has not deleted since); an append whose spill would pass it fails with
   * ERR_DISK_FULL and stores nothing.
   */
  maxDiskBytes?: number;
  /** Each spill moves about this share of the memory held (partd: a tenth). */
  spillFraction?: number;
  /** …in at most this many keys. */
  maxSpillKeys?: number;
}

/** A slow store that reads keys into memory with room to spare after them (file(): readIdsWithRoom). */
interface ReadsWithRoom {
  sizeIds(ids: readonly KeyId[]): Promise<number[]>;
  readIdsWithRoom(ids: readonly KeyId[], room: readonly number[]): Promise<{ bytes: Uint8Array; length: number }[]>;
}

function readsWithRoom(store: BaseStore<Uint8Array>): store is BaseStore<Uint8Array> & ReadsWithRoom {
  return typeof (store as Partial<ReadsWithRoom>).readIdsWithRoom === 'function' && store instanceof BytesStore;
}

/** A slow store that reads a key into memory the caller gives for its size (file(), log(): readIdInto). */
interface ReadsInto {
  readIdInto(id: KeyId, room: (size: number) => Uint8Array): Promise<Uint8Array>;
}

function readsInto(store: BaseStore<Uint8Array>): store is BaseStore<Uint8Array> & ReadsInto {
  return typeof (store as Partial<ReadsInto>).readIdInto === 'function' && store instanceof BytesStore;
}

/**
 * buffer(fast, slow, { availableMemory }): appends land in `fast`; when more
 * than `availableMemory` bytes are held there, the largest keys move to `slow`
 * (partd's Buffer). An append waits while its spill runs, so memory stays
 * bounded however fast the producer is. `get` returns the spilled bytes first,
 * then the bytes still in memory: append order, whatever was spilled when.
 * If a spill itself fails (the slow store's disk is full), the append rejects
 * with that error marked `stored: true`: its values are held in memory and
 * nothing is lost; retrying it would store them twice.
 *
 * Ownership: an append's `{ transfer: true }` goes down to the fast store
 * (dict() then keeps the caller's buffers instead of copying them); a spill
 * hands the fast store's bytes to the slow one with `transfer`, since the fast
 * store lets go of them at once.
 */
export class BufferStore extends BytesStore {
  protected readonly layer = 'buffer';
  /**
   * Bytes per key in memory, when the fast store does not count them itself:
   * over dict(), its own per-key sizes are read instead, so an append does
   * one Map operation a value, not three.
   */
  private readonly sizes = new Map<KeyId, number>();
  private readonly dictFast: DictStore | undefined;
  /** Bytes spilled per key, so that deleting a key gives its share of maxDiskBytes back. */
  private readonly onDisk = new Map<KeyId, number>();
  private held = 0;
  private spilled = 0;
  private readonly opts: Required<Omit<BufferOptions, 'maxDiskBytes'>> & BufferOptions;

  constructor(
    readonly fast: BaseStore<Uint8Array>,
    readonly slow: BaseStore<Uint8Array>,
    opts: BufferOptions,
  ) {
    super();
    if (!(typeof opts?.availableMemory === 'number' && opts.availableMemory >= 0)) {
      throw typeError('ERR_INVALID_OPTION', 'buffer(fast, slow, { availableMemory }) needs availableMemory: the bytes to hold in memory, such as 64 * 2 ** 20.');
    }
    const { maxDiskBytes, spillFraction, maxSpillKeys } = opts;
    if (maxDiskBytes !== undefined && !(typeof maxDiskBytes === 'number' && maxDiskBytes >= 0)) {
      throw typeError('ERR_INVALID_OPTION', `buffer(): maxDiskBytes must be a number of bytes, 0 or more (leave it out for no limit); got ${String(maxDiskBytes)}.`);
    }
    if (spillFraction !== undefined && !(typeof spillFraction === 'number' && spillFraction > 0 && spillFraction <= 1)) {
      throw typeError('ERR_INVALID_OPTION', `buffer(): spillFraction must be a share of memory above 0 and at most 1, such as 0.1; got ${String(spillFraction)}.`);
    }
    if (maxSpillKeys !== undefined && !(Number.isInteger(maxSpillKeys) && maxSpillKeys >= 1)) {
      throw typeError('ERR_INVALID_OPTION', `buffer(): maxSpillKeys must be a whole number, 1 or more; got ${String(maxSpillKeys)}.`);
    }
    this.opts = { spillFraction: 0.1, maxSpillKeys: 128, ...opts };
    this.dictFast = fast instanceof DictStore ? fast : undefined;
  }

  /** Bytes of `id` in memory. */
  private memorySize(id: KeyId): number {
    return this.dictFast ? this.dictFast.sizeOf(id) : (this.sizes.get(id) ?? 0);
  }

  private inMemory(id: KeyId): boolean {
    return this.dictFast ? this.dictFast.hasId(id) : this.sizes.has(id);
  }

  private memoryKeyCount(): number {
    return this.dictFast ? this.dictFast.keyCount : this.sizes.size;
  }

  /** Each key in memory with its size. */
  private memorySizes(): Iterable<[KeyId, number]> {
    return this.dictFast ? this.dictFast.sizeEntries() : this.sizes;
  }

  /**
   * An exclusive section over both stores: this buffer's operations, and the
   * slow store's lock too, so over file() the section also keeps other
   * processes out of the directory.
   */
  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.lock.run(() => this.slow.withLock(fn));
  }

  /** Bytes held in the fast store now. */
  get memoryUsage(): number {
    return this.held;
  }

  /** Bytes this buffer has moved to the slow store and not deleted since (what maxDiskBytes limits). */
  get spilledBytes(): number {
    return this.spilled;
  }

  appendIds(ids: readonly KeyId[], values: readonly Uint8Array[], opts?: OpOptions): Promise<void> {
    // The section calls only the fast and slow stores, never this buffer again: no re-entrancy context.
    return this.lock.run(async () => {
      let incoming = 0;
      for (const value of values) incoming += value.byteLength;
      const max = this.opts.maxDiskBytes;
      // Spills move whole keys, so they can move far more than the excess over
      // the budget: play the spills this append will cause and check what
      // they really move, not the excess, or the slow store overshoots max.
      if (max !== undefined && this.held + incoming > this.opts.availableMemory) {
        const planned = this.plannedSpill(ids, values, incoming);
        if (this.spilled + planned > max) {
          throw new LaminateError(
            'ERR_DISK_FULL',
            `buffer(): this append would spill ${planned} bytes, past maxDiskBytes (${max} bytes; ${this.spilled} already spilled, ${this.held} in memory). Nothing from it was stored; raise maxDiskBytes or availableMemory, or delete keys.`,
          );
        }
      }
      await this.fast.appendIds(ids, values, opts);
      if (!this.dictFast) for (let i = 0; i < ids.length; i++) this.sizes.set(ids[i], (this.sizes.get(ids[i]) ?? 0) + values[i].byteLength);
      this.held += incoming;
      while (this.held > this.opts.availableMemory && this.memoryKeyCount() > 0) await this.spill(this.largestKeys(this.memorySizes(), this.held));
    }, { reentrant: false });
  }

  /** partd's choice: the largest keys, until about spillFraction of memory, at most maxSpillKeys. */
  private largestKeys(sizes: Iterable<[KeyId, number]>, held: number): KeyId[] {
    const bySize = [...sizes].sort((a, b) => b[1] - a[1]);
    const goal = held * this.opts.spillFraction;
    const chosen: KeyId[] = [];
    let moved = 0;
    for (const [id, size] of bySize) {
      chosen.push(id);
      moved += size;
      if (moved >= goal || chosen.length >= this.opts.maxSpillKeys) break;
    }
    return chosen;
  }

  /** The bytes the spills after appending `values` would move: the loop of appendIds, on a copy. */
  private plannedSpill(ids: readonly KeyId[], values: readonly Uint8Array[], incoming: number): number {
    const sizes = new Map(this.memorySizes());
    for (let i = 0; i < ids.length; i++) sizes.set(ids[i], (sizes.get(ids[i]) ?? 0) + values[i].byteLength);
    let held = this.held + incoming;
    let moved = 0;
    while (held > this.opts.availableMemory && sizes.size > 0) {
      for (const id of this.largestKeys(sizes, held)) {
        const size = sizes.get(id) ?? 0;
        held -= size;
        moved += size;
        sizes.delete(id);
      }
    }
    return moved;
  }

  /** Moves `ids` from fast to slow. A key leaves memory only once the slow store holds it. */
  private async spill(ids: KeyId[]): Promise<void> {
    const values = await this.fast.getIds(ids);
    try {
      await this.slow.appendIds(ids, values, { transfer: true });
    } catch (error) {
      // The slow store wrote the first `appended` values before failing: they have left memory.
      // A store may reject with anything, null included: read the count only from an object that has it.
      const appended = (error as { appended?: number } | null | undefined)?.appended ?? 0;
      await this.leftMemory(ids.slice(0, appended));
      // The append that triggered this spill already holds its values in
      // memory: say so, so that a caller does not append them twice.
      if (typeof error === 'object' && error !== null) Object.assign(error, { stored: true });
      throw error;
    }
    await this.leftMemory(ids);
  }

  /** `ids` are in the slow store now: drop them from memory and count their bytes as spilled. */
  private async leftMemory(ids: KeyId[]): Promise<void> {
    const sizes = ids.map((id) => this.memorySize(id));
    await this.fast.deleteIds(ids);
    for (const [i, id] of ids.entries()) {
      const size = sizes[i];
      this.held -= size;
      this.spilled += size;
      this.onDisk.set(id, (this.onDisk.get(id) ?? 0) + size);
      this.sizes.delete(id);
    }
  }

  /** Moves everything to the slow store. */
  flush(): Promise<void> {
    this.assertOpen();
    return this.lock.run(() => this.flushAll());
  }

  private async flushAll(): Promise<void> {
    this.refuseFlushPastLimit('flush()');
    if (this.memoryKeyCount() > 0) await this.spill([...this.memorySizes()].map(([id]) => id));
  }

  /** ERR_DISK_FULL, before anything moves, when spilling `bytes` (by default all of memory) would pass maxDiskBytes. */
  private refuseFlushPastLimit(what: string, bytes = this.held): void {
    const max = this.opts.maxDiskBytes;
    if (max === undefined || this.spilled + bytes <= max) return;
    throw new LaminateError(
      'ERR_DISK_FULL',
      `buffer(): ${what} would spill ${bytes === this.held ? `the ${bytes} bytes in memory` : `${bytes} bytes of the key from memory`}, past maxDiskBytes (${max} bytes; ${this.spilled} already spilled). Nothing was moved and the store stays open: delete keys or raise maxDiskBytes, then call ${what} again.`,
    );
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    // Like appendIds, it calls only the two stores (readRangeIds, which calls it, already holds the lock).
    return this.lock.run(async () => {
      if (readsWithRoom(this.slow)) return this.getWithRoom(this.slow, ids);
      const spilled = await this.spilledParts(ids);
      const inMemory = await this.fast.getIds(ids);
      return ids.map((_, i) => (spilled[i].byteLength === 0 ? inMemory[i] : inMemory[i].byteLength === 0 ? spilled[i] : concatBytes([spilled[i], inMemory[i]])));
    }, { reentrant: false });
  }

  /**
   * getIds over a slow store that reads with room to spare (file()): a key
   * with bytes in both stores is read from disk into memory sized for both,
   * and its bytes in memory are copied after them: one fresh allocation and
   * one copy of the memory part, where joining the two allocated and copied
   * everything again. Keys the slow store holds nothing of are not read
   * (spilledParts says why).
   */
  private async getWithRoom(slow: ReadsWithRoom, ids: readonly KeyId[]): Promise<Uint8Array[]> {
    const sizes = await slow.sizeIds(ids);
    const held: number[] = [];
    for (let i = 0; i < ids.length; i++) if (sizes[i] > 0) held.push(i);
    const read = held.length === 0 ? [] : await slow.readIdsWithRoom(held.map((i) => ids[i]), held.map((i) => this.memorySize(ids[i])));
    // dict() copies a spilled key's bytes in memory into the room after its
    // spilled bytes piece by piece, never joining them into memory of their
    // own first; another fast store's bytes are joined by its get.
    const dict = this.dictFast;
    const fromFast = dict === undefined ? ids.map((_, i) => i) : ids.flatMap((_, i) => (sizes[i] > 0 ? [] : [i]));
    const fastBytes = await this.fast.getIds(fromFast.map((i) => ids[i]));
    const out: Uint8Array[] = new Array<Uint8Array>(ids.length).fill(EMPTY_BYTES);
    fromFast.forEach((i, j) => (out[i] = fastBytes[j]));
    for (let j = 0; j < held.length; j++) {
      const i = held[j];
      const { bytes, length } = read[j];
      const room = bytes.byteLength - length;
      if (dict !== undefined && dict.sizeOf(ids[i]) <= room) {
        out[i] = bytes.subarray(0, length + dict.copyIdInto(ids[i], bytes, length, room));
        continue;
      }
      const memory = dict === undefined ? out[i] : (await this.fast.getIds([ids[i]]))[0];
      if (length === 0) out[i] = memory; // emptied on disk since its size was taken: memory holds the rest
      else if (memory.byteLength === 0) out[i] = bytes.subarray(0, length);
      else if (memory.byteLength <= room) {
        bytes.set(memory, length);
        out[i] = bytes.subarray(0, length + memory.byteLength);
      } else out[i] = concatBytes([bytes.subarray(0, length), memory]);
    }
    return out;
  }

  /** getView()'s buffer, reused from call to call: reads into it fault in no fresh memory. */
  private readonly scratch = new Scratch();

  /**
   * `key`'s bytes (the spilled ones, then those in memory) in memory this
   * store reuses, as file().getView(): valid until the next getView() on
   * this store, which overwrites it; copy what must outlive that. A key held
   * only in memory is a view of the fast store's bytes (what get() returns
   * too). Over a slow store that cannot read into given memory, it is get().
   */
  async getView(key: Key): Promise<Uint8Array> {
    this.assertOpen();
    const id = keyId(key);
    const slow = this.slow;
    if (!readsInto(slow)) return (await this.getIds([id]))[0];
    // Like getIds, the section calls only the two stores.
    return this.lock.run(() => this.viewOf(id, slow), { reentrant: false });
  }

  /**
   * Reads `key`'s bytes into the caller's `target` and returns how many
   * there are; a key larger than `target` is ERR_TOO_LARGE (with its `size`)
   * and `target` is then left as it was.
   */
  async readInto(key: Key, target: Uint8Array): Promise<number> {
    this.assertOpen();
    checkReadTarget(target);
    const id = keyId(key);
    const slow = this.slow;
    const copy = (view: Uint8Array): number => {
      if (view.byteLength > target.byteLength) throw tooLargeForTarget(id, view.byteLength, target);
      target.set(view);
      return view.byteLength;
    };
    if (!readsInto(slow)) return copy((await this.getIds([id]))[0]);
    return this.lock.run(async () => copy(await this.viewOf(id, slow)), { reentrant: false });
  }

  /**
   * getView's read, the caller holding the lock: the spilled bytes into the
   * scratch buffer, with room after them for those in memory, which dict()
   * copies in piece by piece (another fast store's are joined first). A key
   * held only in memory is the fast store's view.
   */
  private async viewOf(id: KeyId, slow: ReadsInto): Promise<Uint8Array> {
    const dict = this.dictFast;
    const memory = dict === undefined ? (await this.fast.getIds([id]))[0] : undefined;
    const inMemory = memory === undefined ? dict!.sizeOf(id) : memory.byteLength;
    let into: Uint8Array = EMPTY_BYTES;
    const spilled = await slow.readIdInto(id, (size) => (into = this.scratch.room(size + inMemory)));
    if (spilled.byteLength === 0) return memory ?? (await this.fast.getIds([id]))[0];
    // The spilled bytes may start past the head of the room (a trimmed key's cut first value, in log()).
    const start = spilled.byteOffset - into.byteOffset;
    const end = start + spilled.byteLength;
    if (memory !== undefined) into.set(memory, end);
    const copied = memory === undefined ? dict!.copyIdInto(id, into, end, inMemory) : inMemory;
    return into.subarray(start, end + copied);
  }

  /**
   * Each key's bytes in the slow store. Reading file() takes its directory
   * lock (hundreds of µs) even for a key it does not hold, and most keys a
   * buffer serves were never spilled; so where the slow store can tell sizes
   * without its lock (file(): an lstat), only keys it holds bytes of are
   * read. Sizes come from the slow store itself, not from what this buffer
   * spilled, so keys found there on reopening, or appended there by another
   * process, are read too.
   */
  private async spilledParts(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    const sizes = this.slow instanceof BytesStore ? await this.slow.sizeIds(ids) : undefined;
    if (sizes === undefined) return this.slow.getIds(ids);
    const held = ids.filter((_, i) => sizes[i] > 0);
    const read = held.length === 0 ? [] : await this.slow.getIds(held);
    let next = 0;
    return sizes.map((size) => (size > 0 ? read[next++] : EMPTY_BYTES));
  }

  /**
   * The bytes in memory (this buffer counts them) plus the slow store's, when
   * the slow store can tell; taken without the lock, so a spill under way may
   * count a key's moving bytes twice, never zero times.
   */
  override async sizeIds(ids: readonly KeyId[]): Promise<number[] | undefined> {
    const inMemory = ids.map((id) => this.memorySize(id));
    const spilled = this.slow instanceof BytesStore ? await this.slow.sizeIds(ids) : undefined;
    return spilled?.map((bytes, i) => bytes + inMemory[i]);
  }

  /** Keys with no bytes in memory are read in part from the slow store; the others whole. */
  override readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return this.lock.run(async () => {
      const out: Uint8Array[] = new Array(ranges.length);
      const slow: number[] = [];
      const whole: number[] = [];
      ranges.forEach((range, i) => (this.inMemory(range.id) ? whole : slow).push(i));
      if (slow.length > 0) {
        const parts = await readRangeIds(
          this.slow,
          slow.map((i) => ranges[i]),
        );
        slow.forEach((i, j) => (out[i] = parts[j]));
      }
      if (whole.length > 0) await this.readAcross(ranges, whole, out);
      return out;
    });
  }

  /**
   * Streams (follow.ts): positions count the spilled bytes then those in
   * memory, which a spill does not reorder. The seal is kept by the slow
   * store (on disk, for file()), at this buffer's length.
   */
  override sealId(id: KeyId): Promise<void> {
    return this.withLock(async () => {
      const [bytes] = await this.getIds([id]);
      const length = (await this.slow.startId(id)) + bytes.byteLength;
      await (this.slow instanceof BytesStore ? this.slow.sealAtId(id, length) : super.sealAtId(id, length));
    });
  }

  // Retention (retention.ts): the slow store keeps the consumers and the start, on disk for file().

  override startId(id: KeyId): Promise<number> {
    return this.slow.startId(id);
  }

  /** The start and the read under this buffer's lock, so that a trim through it cannot fall between them. */
  override readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    return this.lock.run(async () => {
      const start = await this.slow.startId(id);
      if (offset < start) throw trimmedError(id, start, offset);
      return (await this.readRangeIds([{ id, offset: offset - start, length: max }]))[0];
    });
  }

  override commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    // The slow store checks the position against its length: bytes still in memory make the key longer.
    return this.lock.run(async () => {
      const inMemory = this.memorySize(id);
      if (inMemory > 0) {
        this.refuseFlushPastLimit('commit()', inMemory);
        await this.spill([id]);
      }
      await this.slow.commitId(id, consumer, position);
    });
  }

  override consumersId(id: KeyId): Promise<Consumer[]> {
    return this.slow.consumersId(id);
  }

  override forgetId(id: KeyId, consumer: string): Promise<void> {
    return this.slow.forgetId(id, consumer);
  }

  /** Spills the key's bytes in memory first, so that the slow store holds all of it, then trims there. */
  override trimId(id: KeyId, position?: number): Promise<void> {
    return this.lock.run(async () => {
      const inMemory = this.memorySize(id);
      if (inMemory > 0) {
        this.refuseFlushPastLimit('trim()', inMemory);
        await this.spill([id]);
      }
      const before = await this.slow.startId(id);
      await this.slow.trimId(id, position);
      // What the trim dropped from the disk is given back to maxDiskBytes.
      const dropped = Math.min((await this.slow.startId(id)) - before, this.onDisk.get(id) ?? 0);
      if (dropped > 0) {
        this.onDisk.set(id, (this.onDisk.get(id) ?? 0) - dropped);
        this.spilled -= dropped;
      }
    });
  }

  override sealedId(id: KeyId): Promise<number | undefined> {
    return this.slow instanceof BytesStore ? this.slow.sealedId(id) : super.sealedId(id);
  }

  /**
   * Ranges of keys with bytes in memory, into `out` at `at`. Where the slow
   * store tells its sizes, each range is read as its part of the spilled
   * bytes and its part of those in memory, so that a follower reading a
   * growing key piece by piece does not join the whole key for each piece;
   * otherwise the keys are read whole and sliced. The caller holds the lock.
   */
  private async readAcross(ranges: readonly IdRange[], at: readonly number[], out: Uint8Array[]): Promise<void> {
    const spilled = this.slow instanceof BytesStore ? await this.slow.sizeIds(at.map((i) => ranges[i].id)) : undefined;
    if (spilled === undefined) {
      const values = await this.getIds(at.map((i) => ranges[i].id));
      at.forEach((i, j) => (out[i] = values[j].subarray(ranges[i].offset, ranges[i].offset + ranges[i].length)));
      return;
    }
    const slowParts: IdRange[] = [];
    const fastParts: IdRange[] = [];
    const slowOf = new Map<number, number>();
    at.forEach((i, j) => {
      const { id, offset, length } = ranges[i];
      const size = spilled[j];
      if (offset < size) slowOf.set(i, slowParts.push({ id, offset, length: Math.min(length, size - offset) }) - 1);
      const from = Math.max(offset, size);
      fastParts.push({ id, offset: from - size, length: Math.max(0, offset + length - from) });
    });
    const [slow, fast] = await Promise.all([slowParts.length > 0 ? readRangeIds(this.slow, slowParts) : [], readRangeIds(this.fast, fastParts)]);
    at.forEach((i, j) => {
      const head = slowOf.has(i) ? slow[slowOf.get(i)!] : EMPTY_BYTES;
      out[i] = head.byteLength === 0 ? fast[j] : fast[j].byteLength === 0 ? head : concatBytes([head, fast[j]]);
    });
  }

  /** Reopened, it finds what was spilled, and close() spills the rest; chunks survive only where both stores keep them. */
  override get supports(): Supports {
    return { reopen: this.slow.supports.reopen, iterChunks: this.fast.supports.iterChunks && this.slow.supports.iterChunks };
  }

  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    // Start reading the slow store and copy the memory part in one step, so a
    // spill in between can neither hide nor repeat a chunk.
    const spilled = this.slow.iterId(id)[Symbol.asyncIterator]();
    const inMemory: Uint8Array[] = [];
    let next = await this.lock.run(async () => {
      for await (const chunk of this.fast.iterId(id)) inMemory.push(chunk);
      return spilled.next();
    });
    while (!next.done) {
      yield next.value;
      next = await spilled.next();
    }
    yield* inMemory;
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.lock.run(async () => {
      const sizes = ids.map((id) => this.memorySize(id));
      await this.fast.deleteIds(ids);
      for (const [i, id] of ids.entries()) {
        this.held -= sizes[i];
        this.sizes.delete(id);
      }
      await this.slow.deleteIds(ids);
      // The deleted keys' bytes are off the disk: give them back to maxDiskBytes.
      for (const id of ids) {
        this.spilled -= this.onDisk.get(id) ?? 0;
        this.onDisk.delete(id);
      }
    });
  }

  listIds(): Promise<KeyId[]> {
    return this.lock.run(async () => {
      const ids = new Set(await this.slow.listIds());
      for (const [id] of this.memorySizes()) ids.add(id);
      return [...ids];
    });
  }

  /** Metadata goes straight to the slow store, where it survives reopening. */
  isetId(id: KeyId, value: Uint8Array): Promise<void> {
    return this.slow.isetId(id, value);
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.slow.igetId(id);
  }

  protected async dropAll(): Promise<void> {
    // The slow store first: when it refuses (file() holding files it did not write), memory keeps its keys.
    await this.slow.drop();
    await this.fast.drop();
    this.sizes.clear();
    this.onDisk.clear();
    this.held = 0;
    this.spilled = 0;
  }

  /** Refuses, leaving the store open, when the spill that close() makes would pass maxDiskBytes: closing would lose what memory holds. */
  override close(): Promise<void> {
    if (!this.closed && (this.slow as { temporary?: unknown }).temporary !== true) {
      try {
        this.refuseFlushPastLimit('close()');
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return super.close();
  }

  /** Spills what memory holds, so that reopening the slow store finds every value. */
  protected async closeStore(): Promise<void> {
    // A temporary slow store is removed on close: spilling into it first would be wasted work.
    const temporary = (this.slow as { temporary?: unknown }).temporary === true;
    if (!temporary) await this.lock.run(() => this.flushAll());
    await this.fast.close();
    await this.slow.close();
  }

  describe(): StoreSpec {
    const spec: StoreSpec = { type: 'buffer', fast: this.fast.describe(), slow: this.slow.describe(), availableMemory: this.opts.availableMemory };
    if (this.opts.maxDiskBytes !== undefined) spec.maxDiskBytes = this.opts.maxDiskBytes;
    if (this.opts.spillFraction !== 0.1) spec.spillFraction = this.opts.spillFraction;
    if (this.opts.maxSpillKeys !== 128) spec.maxSpillKeys = this.opts.maxSpillKeys;
    return spec;
  }
}

export function buffer(fast: BaseStore<Uint8Array>, slow: BaseStore<Uint8Array>, opts: BufferOptions): BufferStore {
  return new BufferStore(fast, slow, opts);
}

registerLayer('buffer', {
  children: ['fast', 'slow'],
  options: ['availableMemory', 'maxDiskBytes', 'spillFraction', 'maxSpillKeys'],
  open: (spec, open) => {
    const { type: _type, fast, slow, ...opts } = spec;
    return buffer(open(fast as StoreSpec), open(slow as StoreSpec), opts as unknown as BufferOptions);
  },
});
