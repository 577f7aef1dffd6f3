import { createHash } from 'node:crypto';
import { type Key, LaminateError, type Store } from '@laminate/core';
import { typeError } from '@laminate/core/layer';
import { type Content, chunksOf } from './content.js';
import { newWriterTag, writerGone } from './writers.js';

/**
 * Where cas() keeps things in the store under it:
 *   ['cas', 'data', TAG]   an object's bytes, written under its writer's tag (writers.ts)
 *   ['cas', 'object', ID]  the record naming them: {"data": TAG, "size": N}
 * An object exists once its record does. Bytes are never moved or copied to
 * be named: append-only stores (file(), log(), redis()) have no rename, and a
 * copy would double the writes, so the record points at the bytes instead.
 */
const DATA = 'data';
const OBJECT = 'object';

/** Streams are written in batches this large: one append (one lock of file()) per batch, bounded memory. */
const WRITE_BATCH = 4 << 20;
/** Objects up to this size are read whole and checked once; larger ones are checked in a streaming pass. */
const WHOLE_READ = 8 << 20;
/** Pieces of a ranged read of a large object. */
const READ_PIECE = 4 << 20;
/** Bytes given whole below this size are written inside commit()'s lock section; larger ones before it. */
const SMALL_WRITE = 1 << 20;

const ID_PATTERN = /^[0-9a-f]{64}$/;

export interface ObjectStat {
  /** The SHA-256 of the object's bytes, lower-case hex. */
  id: string;
  size: number;
}

export interface OpenOptions {
  /** First byte to read; default 0. */
  start?: number;
  /** Read up to this byte, exclusive; default the end of the object. */
  end?: number;
  /**
   * 'first' (the default): the whole object is hashed before a byte is given
   * out, so a damaged object yields nothing. 'end': bytes are given out as
   * they are read and the digest is checked after the last byte of the
   * object; a damaged object then throws ERR_CORRUPT after some of its bytes
   * were yielded — for consumers that can discard what they got.
   */
  verify?: 'first' | 'end';
}

/** An object whose bytes are written but not yet recorded: commit() records it. */
export interface StagedObject {
  id: string;
  size: number;
  /** The writer tag its bytes lie under; '' when none were written (the empty object, or small bytes held in `bytes`). */
  data: string;
  /** Bytes not written yet: commit() writes them only when the id is not recorded. */
  bytes?: Uint8Array;
}

export interface CollectResult {
  /** Recorded objects removed with their bytes. */
  objects: number;
  /** Bytes removed that a dead writer left unrecorded (a crashed put). */
  partial: number;
}

/**
 * Immutable objects named by the SHA-256 of their bytes, over any store of
 * bytes. Every read checks the digest: a damaged object is ERR_CORRUPT, never
 * data (open()'s `verify` says when a streaming read checks it).
 */
export class Cas {
  constructor(readonly store: Store<Uint8Array>) {}

  /** Stores the bytes once and returns their id; the same bytes again return the same id and store nothing more. */
  async put(content: Content): Promise<string> {
    const staged = await this.write(content);
    return this.store.withLock(() => this.commit(staged));
  }

  /**
   * Writes the bytes under a fresh writer tag while hashing them, without
   * recording them: nothing names them yet, so a crash here leaves only bytes
   * that collect() removes once the writer is gone. commit() records them.
   */
  async write(content: Content): Promise<StagedObject> {
    if (content instanceof Uint8Array) return this.writeWhole(content);
    const tag = newWriterTag();
    const key = dataKey(tag);
    const hash = createHash('sha256');
    let size = 0;
    let batch = Buffer.allocUnsafe(WRITE_BATCH);
    let batched = 0;
    const flush = async () => {
      if (batched === 0) return;
      // The batch is ours: the store may keep it without a copy; the next batch is a new buffer.
      await this.store.append([[key, batch.subarray(0, batched)]], { transfer: true });
      batch = Buffer.allocUnsafe(WRITE_BATCH);
      batched = 0;
    };
    try {
      for await (const chunk of chunksOf(content, 'put()')) {
        hash.update(chunk);
        size += chunk.byteLength;
        if (chunk.byteLength >= WRITE_BATCH) {
          await flush();
          await this.store.append([[key, chunk]]);
        } else {
          // Copied into the batch now: a producer may reuse its chunk once we ask for the next.
          if (batched + chunk.byteLength > WRITE_BATCH) await flush();
          batch.set(chunk, batched);
          batched += chunk.byteLength;
        }
      }
      await flush();
    } catch (error) {
      await this.store.delete([key]).catch(() => undefined);
      throw error;
    }
    return { id: hash.digest('hex'), size, data: size === 0 ? '' : tag };
  }

  /** Bytes given whole are hashed first: when their id is recorded already, nothing is written. */
  private async writeWhole(bytes: Uint8Array): Promise<StagedObject> {
    const id = sha256(bytes);
    const size = bytes.byteLength;
    if (size === 0) return { id, size, data: '' };
    // Small bytes are written by commit(), under the lock, only if the id is not recorded yet; a
    // copy, so that what is written is what was hashed even if the caller reuses its buffer.
    if (size < SMALL_WRITE) return { id, size, data: '', bytes: Buffer.from(bytes) };
    // Known already: commit() writes them only if gc() removed the object in between.
    if (await this.has(id)) return { id, size, data: '', bytes };
    const tag = newWriterTag();
    try {
      await this.store.append([[dataKey(tag), bytes]]);
    } catch (error) {
      // Whatever part of the bytes landed: nothing names them, and they are this writer's to remove.
      await this.store.delete([dataKey(tag)]).catch(() => undefined);
      throw error;
    }
    return { id, size, data: tag };
  }

  /**
   * Records staged bytes under their id, or drops them when the id is
   * recorded already (the same bytes put twice, or by another process).
   * Call it inside the store's withLock, as put() does: the check and the
   * record must not interleave with another writer's.
   */
  async commit(staged: StagedObject): Promise<string> {
    const known = await this.record(staged.id);
    if (known !== undefined) {
      if (staged.data !== '' && staged.data !== known.data) await this.store.delete([dataKey(staged.data)]);
      return staged.id;
    }
    let data = staged.data;
    if (staged.bytes !== undefined) {
      data = newWriterTag();
      await this.store.append([[dataKey(data), staged.bytes]]);
    }
    const record = Buffer.from(JSON.stringify({ data, size: staged.size }));
    await this.store.append([[objectKey(staged.id), record]], { transfer: true });
    return staged.id;
  }

  /** Drops staged bytes that will not be committed. */
  async discard(staged: StagedObject): Promise<void> {
    if (staged.data !== '') await this.store.delete([dataKey(staged.data)]);
  }

  /**
   * Removes an object, its record first: for a damaged copy (ERR_CORRUPT)
   * that the original bytes should replace. Objects are otherwise removed
   * by a catalog's gc().
   */
  async remove(id: string): Promise<void> {
    checkId(id, 'remove');
    await this.store.withLock(async () => {
      const record = await this.record(id).catch(() => undefined);
      await this.store.delete([objectKey(id)]);
      if (record !== undefined && record.data !== '') await this.store.delete([dataKey(record.data)]);
    });
  }

  async has(id: string): Promise<boolean> {
    return (await this.record(checkId(id, 'has'))) !== undefined;
  }

  /** The object's size from its record, without reading or checking its bytes; undefined when there is no such object. */
  async stat(id: string): Promise<ObjectStat | undefined> {
    const record = await this.record(checkId(id, 'stat'));
    return record === undefined ? undefined : { id, size: record.size };
  }

  /** The object's bytes, checked against its id first. */
  async get(id: string): Promise<Uint8Array> {
    const record = await this.found(checkId(id, 'get'));
    return this.readWhole(id, record);
  }

  /** The object (or `start`..`end` of it) in chunks; see OpenOptions.verify for when the digest is checked. */
  async *open(id: string, opts: OpenOptions = {}): AsyncIterable<Uint8Array> {
    checkId(id, 'open');
    const verify = opts.verify ?? 'first';
    if (verify !== 'first' && verify !== 'end') throw typeError('ERR_INVALID_OPTION', `open(): verify must be 'first' or 'end', not ${JSON.stringify(verify)}.`);
    const record = await this.found(id);
    const start = offset(opts.start, 0, 'start');
    const end = Math.min(offset(opts.end, record.size, 'end'), record.size);
    if (record.size <= WHOLE_READ) {
      const bytes = await this.readWhole(id, record);
      if (end > start) yield bytes.subarray(start, end);
      return;
    }
    if (verify === 'end') {
      yield* this.readCheckingAtEnd(id, record, start, end);
      return;
    }
    await this.check(id, record);
    if (end > start) yield* this.readRange(record, start, end);
  }

  /** The ids of every recorded object. */
  async ids(): Promise<string[]> {
    const out: string[] = [];
    for (const key of await this.store.keys()) {
      if (Array.isArray(key) && key.length === 3 && key[0] === 'cas' && key[1] === OBJECT && typeof key[2] === 'string') out.push(key[2]);
    }
    return out;
  }

  /**
   * Removes every recorded object not in `keep`, and the bytes of writers
   * that are gone without recording them (writers.ts: a dead pid on this
   * host, or older than `graceMs` from another). Call it inside the store's
   * withLock so that no commit interleaves. A record goes before its bytes:
   * stopped in between, what is left is unrecorded bytes of a gone writer,
   * which the next collect() removes.
   */
  async collect(keep: ReadonlySet<string>, graceMs: number): Promise<CollectResult> {
    const tags: string[] = [];
    const ids: string[] = [];
    for (const key of await this.store.keys()) {
      if (!Array.isArray(key) || key.length !== 3 || key[0] !== 'cas' || typeof key[2] !== 'string') continue;
      if (key[1] === DATA) tags.push(key[2]);
      else if (key[1] === OBJECT) ids.push(key[2]);
    }
    const records = await this.store.getMany(ids.map(objectKey));
    const named = new Set<string>();
    const removedIds: string[] = [];
    const removedTags: string[] = [];
    ids.forEach((id, i) => {
      const record = parseRecord(id, records[i]);
      if (keep.has(id)) {
        if (record !== undefined) named.add(record.data);
        return;
      }
      removedIds.push(id);
      if (record !== undefined && record.data !== '') removedTags.push(record.data);
    });
    const removedSet = new Set(removedTags);
    const partial = tags.filter((tag) => !named.has(tag) && !removedSet.has(tag) && writerGone(tag, graceMs));
    if (removedIds.length > 0) await this.store.delete(removedIds.map(objectKey));
    if (removedTags.length + partial.length > 0) await this.store.delete([...removedTags, ...partial].map(dataKey));
    return { objects: removedIds.length, partial: partial.length };
  }

  private async record(id: string): Promise<{ data: string; size: number } | undefined> {
    return parseRecord(id, await this.store.get(objectKey(id)));
  }

  private async found(id: string): Promise<{ data: string; size: number }> {
    const record = await this.record(id);
    if (record === undefined) throw new LaminateError('ERR_NOT_FOUND', `No object ${id} in this store; put() it first (or it was collected by gc()).`, { key: id });
    return record;
  }

  private async readWhole(id: string, record: { data: string; size: number }): Promise<Uint8Array> {
    const bytes = record.data === '' ? new Uint8Array(0) : await this.store.get(dataKey(record.data));
    if (bytes.byteLength !== record.size) throw corrupt(id, `holds ${bytes.byteLength} bytes where ${record.size} were stored`);
    if (sha256(bytes) !== id) throw corrupt(id, 'no longer hashes to its id');
    return bytes;
  }

  /** One streaming pass over the object's bytes, hashing them, giving nothing out. */
  private async check(id: string, record: { data: string; size: number }): Promise<void> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of this.store.iter(dataKey(record.data))) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    if (size !== record.size) throw corrupt(id, `holds ${size} bytes where ${record.size} were stored`);
    if (hash.digest('hex') !== id) throw corrupt(id, 'no longer hashes to its id');
  }

  private async *readCheckingAtEnd(id: string, record: { data: string; size: number }, start: number, end: number): AsyncIterable<Uint8Array> {
    const hash = createHash('sha256');
    let at = 0;
    for await (const chunk of this.store.iter(dataKey(record.data))) {
      hash.update(chunk);
      const from = Math.max(start - at, 0);
      const to = Math.min(end - at, chunk.byteLength);
      at += chunk.byteLength;
      if (to > from) yield chunk.subarray(from, to);
    }
    if (at !== record.size) throw corrupt(id, `holds ${at} bytes where ${record.size} were stored`);
    if (hash.digest('hex') !== id) throw corrupt(id, 'no longer hashes to its id');
  }

  /** Only the bytes asked for where the store reads part of a key (file(), buffer()); otherwise slices of its pieces. */
  private async *readRange(record: { data: string; size: number }, start: number, end: number): AsyncIterable<Uint8Array> {
    const key = dataKey(record.data);
    const ranged = this.store as Store<Uint8Array> & { readRanges?: (ranges: { key: Key; offset: number; length: number }[]) => Promise<Uint8Array[]> };
    if (typeof ranged.readRanges === 'function') {
      for (let at = start; at < end; ) {
        const [piece] = await ranged.readRanges([{ key, offset: at, length: Math.min(READ_PIECE, end - at) }]);
        if (piece.byteLength === 0) throw new LaminateError('ERR_CORRUPT', `Object ${record.data} ended early while it was read; it was removed (gc()) or damaged after it was checked.`);
        at += piece.byteLength;
        yield piece;
      }
      return;
    }
    let at = 0;
    for await (const chunk of this.store.iter(key)) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end - at, chunk.byteLength);
      at += chunk.byteLength;
      if (to > from) yield chunk.subarray(from, to);
      if (at >= end) return;
    }
  }
}

/** A content-addressed store of immutable objects over `store` (file(), log(), redis(), buffer(…), any store of bytes). */
export function cas(store: Store<Uint8Array>): Cas {
  return new Cas(store);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function dataKey(tag: string): Key {
  return ['cas', DATA, tag];
}

function objectKey(id: string): Key {
  return ['cas', OBJECT, id];
}

function checkId(id: unknown, call: string): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw typeError('ERR_INVALID_KEY', `${call}(): an object id is the 64 lower-case hex digits of a SHA-256, as put() returns; got ${JSON.stringify(id)}.`);
  }
  return id;
}

function offset(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw typeError('ERR_INVALID_OPTION', `open(): ${name} must be a whole number of bytes, 0 or more; got ${String(value)}.`);
  return value;
}

function parseRecord(id: string, bytes: Uint8Array): { data: string; size: number } | undefined {
  if (bytes.byteLength === 0) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw corrupt(id, 'has a record that does not read');
  }
  const { data, size } = (record ?? {}) as { data?: unknown; size?: unknown };
  if (typeof data !== 'string' || typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw corrupt(id, 'has a record that does not read');
  return { data, size };
}

function corrupt(id: string, what: string): LaminateError {
  return new LaminateError('ERR_CORRUPT', `Object ${id} ${what}: it is damaged, and none of its bytes are given out. To repair it, remove(id) and put() the original bytes again.`, { key: id });
}
