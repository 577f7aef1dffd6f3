/**
 * Live streams: a key that is still growing, read as it grows.
 *
 * `store.follow(key)` yields the values appended to a key, the stored ones
 * first, then each new one as it lands (from this process or another), until
 * the key is sealed (`store.seal(key)`), the signal aborts, or nothing new
 * arrives for `idleTimeoutMs`.
 *
 * A **position** is a byte offset in the key's stored bytes: what `get`
 * returns from the bytes store at the bottom of the stack (for buffer(), the
 * spilled bytes then those in memory, which a spill does not reorder). A
 * follower's `position` is where the value after the last one it yielded
 * starts, so `follow(key, { from: position })` resumes after it, in another
 * process too. Encoding layers decode frame by frame, so their positions fall
 * on frame boundaries.
 *
 * A seal records the key's length when it was sealed: followers finish once
 * they have read that far. It is final, like iset: sealing again changes
 * nothing, and bytes appended after the seal are not followed.
 *
 * The layers supply four hooks (store.ts): how to read bytes from a position
 * (readFollowedId), how to learn of a change (watchId), where the key was
 * sealed (sealedId) and how to seal it (sealAtId). This module is the loop
 * that ties them together, and the waiting.
 */
import { LaminateError, typeError } from './errors.js';
import { type FrameReader, readFrames } from './frames.js';
import { HEADER, lengthAt } from './framing.js';
import type { KeyId } from './keys.js';

/** Where a follower starts: the first stored value, after the last one, or a position from an earlier follower. */
export type FollowFrom = 'start' | 'end' | number;

export interface FollowOptions {
  /** 'start' (the default): every value stored; 'end': only values appended from now on; a number: a position from an earlier follower. */
  from?: FollowFrom;
  /** Ends the follower with ERR_ABORTED. */
  signal?: AbortSignal;
  /** Finish (without error; `endedBy` is 'idle') when no new value arrives for this long. Default: never. */
  idleTimeoutMs?: number;
  /**
   * How often to look again when the store cannot tell of a change as it
   * happens (another process appending to dict()'s memory cannot; file() is
   * watched, and looks again this often only as a fallback). Default 20 ms,
   * 250 ms where the store is watched.
   */
  pollMs?: number;
}

/** A followed value and the position just after it: where a follower resumes to get the values after this one. */
export interface Followed<V> {
  value: V;
  position: number;
}

/** The options as a layer's followId receives them: checked, with the defaults filled in. */
export interface FollowRequest {
  from: number | 'end';
  signal?: AbortSignal;
  idleTimeoutMs: number;
  pollMs?: number;
  /** Called by the bytes follower with the position it starts from (from: 'end' learns it then). */
  started?: (position: number) => void;
  /** Set by the layer that ends the stream: why it ended. */
  endedBy?: 'sealed' | 'idle';
}

/** Tells a follower that a key may have changed. */
export interface ChangeWatch {
  /** Resolves at the next change since the last call (at once if one came meanwhile), or after `ms`; rejects with ERR_ABORTED. */
  next(ms: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/** The largest piece of bytes a follower reads at once. */
export const FOLLOW_PIECE = 4 << 20;
const DEFAULT_POLL_MS = 20;

/** A store as this module sees it: the hooks of store.ts. */
export interface FollowableBytes {
  assertOpen(): void;
  readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array>;
  watchId(id: KeyId, pollMs?: number): ChangeWatch;
  sealedId(id: KeyId): Promise<number | undefined>;
  lengthId(id: KeyId): Promise<number>;
}

export function checkFollowOptions(opts: FollowOptions | undefined): FollowRequest {
  if (opts === undefined) return { from: 0, idleTimeoutMs: Infinity };
  if (opts === null || typeof opts !== 'object') throw typeError('ERR_INVALID_OPTION', 'follow(key, options): options must be an object such as { from: "start" }.');
  const { from = 'start', signal, idleTimeoutMs = Infinity, pollMs } = opts;
  if (!(from === 'start' || from === 'end' || (typeof from === 'number' && Number.isSafeInteger(from) && from >= 0))) {
    throw typeError('ERR_INVALID_OPTION', `follow(): from must be 'start', 'end' or a position (a whole number of bytes, 0 or more, from an earlier follower's position); got ${String(from)}.`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('ERR_INVALID_OPTION', 'follow(): signal must be an AbortSignal (from an AbortController).');
  if (!(typeof idleTimeoutMs === 'number' && idleTimeoutMs > 0)) throw typeError('ERR_INVALID_OPTION', `follow(): idleTimeoutMs must be a number of milliseconds above 0; got ${String(idleTimeoutMs)}.`);
  if (pollMs !== undefined && !(typeof pollMs === 'number' && pollMs >= 1 && pollMs < 2 ** 31)) throw typeError('ERR_INVALID_OPTION', `follow(): pollMs must be a number of milliseconds, 1 or more; got ${String(pollMs)}.`);
  return { from: from === 'start' ? 0 : from, signal, idleTimeoutMs, pollMs };
}

export function abortedError(signal: AbortSignal): LaminateError {
  return new LaminateError('ERR_ABORTED', 'The operation was aborted by its AbortSignal; what it yielded before stays valid, and a follower resumes from its position.', { cause: signal.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

export function notFollowable(layer: string, what: string): LaminateError {
  return new LaminateError(
    'ERR_NOT_SUPPORTED',
    `${layer}() cannot ${what}. Seals work over dict(), file(), log(), redis(), buffer() and client(), and follow() over any bytes store and the layers that frame values on one (msgpack, arrow, the compressors); without a seal, end a follower with idleTimeoutMs or an AbortSignal.`,
  );
}

/**
 * What store.follow() returns: the values as an AsyncIterable (so
 * `Readable.from(store.follow(key))` works), with the position to resume
 * from and why the stream ended. `entries()` yields each value with the
 * position after it.
 */
export class Follower<V> implements AsyncIterable<V> {
  /** Where the value after the last one yielded starts; undefined until known (from: 'end' learns it when iteration starts). */
  position: number | undefined;
  private started = false;

  constructor(
    private readonly source: (request: FollowRequest) => AsyncIterable<Followed<V>>,
    private readonly request: FollowRequest,
  ) {
    this.position = typeof request.from === 'number' ? request.from : undefined;
    request.started = (position) => (this.position ??= position);
  }

  /** 'sealed' when the key's sealed end was reached, 'idle' when idleTimeoutMs passed with nothing new; undefined while it runs. */
  get endedBy(): 'sealed' | 'idle' | undefined {
    return this.request.endedBy;
  }

  /**
   * Records the follower's position under its consumer's name (retention.ts):
   * only a follower made with follow(key, { consumer }) has one to commit to.
   */
  commit(_position?: number): Promise<void> {
    return Promise.reject(typeError('ERR_INVALID_OPTION', "commit(): this follower has no consumer; follow(key, { consumer: 'name' }) to commit positions."));
  }

  async *entries(): AsyncIterable<Followed<V>> {
    if (this.started) throw typeError('ERR_INVALID_OPTION', 'A follower is read once; call follow(key, { from: follower.position }) to read on.');
    this.started = true;
    for await (const entry of this.source(this.request)) {
      this.position = entry.position;
      yield entry;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<V> {
    for await (const { value } of this.entries()) yield value;
  }
}

/**
 * The followed bytes of a bytes store: read from the position on, in pieces;
 * when nothing is there, finish at the sealed end, or wait for a change.
 */
export async function* followBytes(store: FollowableBytes, id: KeyId, request: FollowRequest): AsyncIterable<Followed<Uint8Array>> {
  throwIfAborted(request.signal);
  // Watching starts before the first read, so a change between a read that finds nothing and the wait is not missed.
  const watch = store.watchId(id, request.pollMs);
  try {
    let offset = request.from === 'end' ? await store.lengthId(id) : request.from;
    request.started?.(offset);
    let sealed = await store.sealedId(id);
    let lastNews = Date.now();
    for (;;) {
      throwIfAborted(request.signal);
      store.assertOpen();
      const max = sealed === undefined ? FOLLOW_PIECE : Math.min(FOLLOW_PIECE, sealed - offset);
      let bytes = max > 0 ? await store.readFollowedId(id, offset, max) : EMPTY;
      // A seal that landed while the key was being read may have been followed by more appends, which the
      // read can include: look for it after the read, which cannot be before a seal made after this look.
      if (bytes.byteLength > 0 && sealed === undefined && (sealed = await store.sealedId(id)) !== undefined) bytes = bytes.subarray(0, Math.max(0, sealed - offset));
      if (bytes.byteLength > 0) {
        offset += bytes.byteLength;
        yield { value: bytes, position: offset };
        // Idle counts from when the consumer took the value: a slow consumer is not an idle key.
        lastNews = Date.now();
        continue;
      }
      sealed ??= await store.sealedId(id);
      if (sealed !== undefined && offset >= sealed) {
        request.endedBy = 'sealed';
        return;
      }
      const left = request.idleTimeoutMs - (Date.now() - lastNews);
      if (left <= 0) {
        request.endedBy = 'idle';
        return;
      }
      await watch.next(Math.min(left, 2 ** 31 - 1), request.signal);
    }
  } finally {
    watch.close();
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Values decoded from followed bytes, one per whole frame, each with the
 * position after its frame. A partial frame waits for the rest; one left at
 * the sealed end is the torn tail of a writer that died, reported as
 * readFrames() reports it.
 */
export async function* followFrames<T>(chunks: AsyncIterable<Followed<Uint8Array>>, id: KeyId, reader: FrameReader<T>, request: FollowRequest, contiguous: boolean): AsyncIterable<Followed<T>> {
  let carry: Uint8Array = EMPTY;
  for await (const { value: chunk, position } of chunks) {
    // Over a bytes store the chunks are runs of the stored bytes, so a frame's end is a position; over another
    // decoding layer (msgpack over lz4) each chunk is one value of that layer, whose frames end at its position.
    const base = position - chunk.byteLength - carry.byteLength;
    const bytes = carry.byteLength === 0 ? chunk : Buffer.concat([carry, chunk]);
    let offset = 0;
    while (bytes.byteLength - offset >= HEADER) {
      const end = offset + HEADER + lengthAt(bytes, offset);
      if (end > bytes.byteLength) break;
      // One frame through readFrames: a frame that does not decode is the same ERR_CORRUPT_FRAME that get() throws.
      const [value] = readFrames(bytes.subarray(offset, end), id, reader);
      offset = end;
      yield { value, position: contiguous ? base + offset : position };
    }
    // Keep only the partial frame (a copy: the chunk may be a view of a larger buffer).
    carry = offset === bytes.byteLength ? EMPTY : Buffer.from(bytes.subarray(offset));
  }
  if (carry.byteLength > 0 && request.endedBy === 'sealed') readFrames(carry, id, reader);
}

/**
 * In-process news of appends: every store's append() and seal() calls
 * changed(), and every waiting follower in this process looks again. Cheap
 * (a set of waiters), and it needs no hook in each layer.
 */
const waiters = new Set<() => void>();

export function changed(): void {
  for (const wake of waiters) wake();
}

/**
 * A watch that wakes on in-process news and every `pollMs`; `extra` lets a
 * layer add a source of its own (file()'s filesystem notifications), called
 * with the wake function and returning how to stop it.
 */
export function pollingWatch(pollMs: number = DEFAULT_POLL_MS, extra?: (wake: () => void) => () => void): ChangeWatch {
  let news = false;
  let pending: (() => void) | undefined;
  const wake = () => {
    news = true;
    pending?.();
  };
  waiters.add(wake);
  const stop = extra?.(wake);
  return {
    next(ms, signal) {
      if (news) {
        news = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          pending = undefined;
          news = false;
        };
        const onAbort = () => {
          done();
          reject(abortedError(signal!));
        };
        const timer = setTimeout(
          () => {
            done();
            resolve();
          },
          Math.min(ms, pollMs),
        );
        pending = () => {
          done();
          resolve();
        };
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    close() {
      waiters.delete(wake);
      pending = undefined;
      stop?.();
    },
  };
}

/**
 * Where keys are sealed, for stores whose data is this process's memory
 * (dict()): beside the store, forgotten with it.
 */
const memorySeals = new WeakMap<object, Map<KeyId, number>>();

export function sealInMemory(store: object, id: KeyId, length: number): void {
  let seals = memorySeals.get(store);
  if (!seals) memorySeals.set(store, (seals = new Map()));
  if (!seals.has(id)) seals.set(id, length);
}

export function sealedInMemory(store: object, id: KeyId): number | undefined {
  return memorySeals.get(store)?.get(id);
}

/** Forgets the seals of deleted keys (or every seal, for a drop), so that a key written again is a new stream. */
export function unsealInMemory(store: object, ids?: readonly KeyId[]): void {
  const seals = memorySeals.get(store);
  if (!seals) return;
  if (ids === undefined) seals.clear();
  else for (const id of ids) seals.delete(id);
}

/**
 * One step of a follower, for a server answering a remote one (serve()'s
 * 'follow'): up to `max` bytes from `offset`, waiting up to `waitMs` for some
 * to land; with where the key is sealed, if it is.
 */
export async function nextPiece(store: FollowableBytes, id: KeyId, offset: number, max: number, waitMs: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; sealed: number | undefined }> {
  const watch = store.watchId(id);
  try {
    const until = Date.now() + waitMs;
    for (;;) {
      let sealed = await store.sealedId(id);
      const room = sealed === undefined ? max : Math.min(max, sealed - offset);
      let bytes = room > 0 ? await store.readFollowedId(id, offset, room) : EMPTY;
      // As in followBytes: a seal made during the read is looked for after it, so nothing appended past it is sent.
      if (bytes.byteLength > 0 && sealed === undefined && (sealed = await store.sealedId(id)) !== undefined) bytes = bytes.subarray(0, Math.max(0, sealed - offset));
      const left = until - Date.now();
      if (bytes.byteLength > 0 || (sealed !== undefined && offset >= sealed) || left <= 0) return { bytes, sealed };
      await watch.next(left, signal);
    }
  } finally {
    watch.close();
  }
}
