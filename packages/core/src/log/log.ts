import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DirectoryLock } from '../directory-lock.js';
import { LaminateError, typeError } from '../errors.js';
import { type Key, type KeyId, keyId, showKey } from '../keys.js';
import { Mutex } from '../mutex.js';
import { registerLayer } from '../spec.js';
import type { ChangeWatch } from '../follow.js';
import { type Consumer, byName, trimTarget, trimmedError } from '../retention.js';
import { BytesStore, EMPTY_BYTES, type IdRange, type StoreSpec, type Supports } from '../store.js';
import { removedByStore, removeOnExit } from '../temporary.js';
import { Scratch, checkReadTarget, tooLargeForTarget } from '../reused-reads.js';
import { crc32Of } from './crc.js';
import { CHECKPOINT_NAME, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { type Commit, CommitLog } from './commit-log.js';
import { CommitWatch } from './commit-watch.js';
import { type Extents, FIELDS, type IndexedRecord, LogIndex } from './log-index.js';
import { Kind, RECORD_HEADER, checksum, indexReadsValue, positionValue, utf8Length, writeRecord } from './record.js';
import { type ActiveSegment, SegmentReader, createSegment, damaged, segmentName, segmentNumber, writerIsGone } from './segments.js';

export interface LogOptions {
  /** fsync each append (data, then its commit) before it resolves; concurrent appends share one fsync (group commit). */
  fsync?: boolean;
  /** Refuse an append that would take the segments past this many bytes (ERR_DISK_FULL); compact() gives space back. */
  maxDiskBytes?: number;
  /** Refuse an append that would take the index's estimated memory (stats().indexBytes) past this many bytes (ERR_TOO_LARGE). */
  maxIndexBytes?: number;
  /** Bytes of segment blocks kept for gets of small values (default 32 MiB; 0: none). */
  readCacheBytes?: number;
  /** How long withLock, drop, pop and compact wait for the directory lock before ERR_LOCKED. */
  lockTimeoutMs?: number;
  /** Checkpoint the index on close when this many records were read or written since the last checkpoint (default 4096). */
  checkpointEvery?: number;
  /** A writer starts a new segment once its segment holds this many bytes (default 256 MiB), so that compact() can remove the old one. */
  segmentBytes?: number;
  /**
   * Compact automatically (default true): after a write of this process, when
   * the segments' garbage (bytes no live value uses) is at least
   * autoCompactBytes and at least autoCompactRatio of the segments, this
   * process runs compact() in the background if no other holds the directory.
   */
  autoCompact?: boolean;
  /** The share of the segments' bytes that must be garbage (default 0.5). */
  autoCompactRatio?: number;
  /** The garbage bytes there must be, and must have grown by since this process last compacted (default 64 MiB). */
  autoCompactBytes?: number;
}

/** The fields describe() may write besides type and path. */
const SPEC_OPTIONS = ['fsync', 'maxDiskBytes', 'maxIndexBytes', 'lockTimeoutMs', 'checkpointEvery', 'segmentBytes', 'autoCompact', 'autoCompactRatio', 'autoCompactBytes', 'readCacheBytes'] as const;
const READ_CACHE_BYTES = 32 << 20;
/** For sections that never call back into the store: not recorded in the async context, which costs a share of a small call (see Mutex.run). */
const NOT_REENTERED = { reentrant: false } as const;

/** The bytes of a key's values, from its extents. */
function extentsSize(extents: Extents): number {
  let total = 0;
  for (let i = 2; i < extents.length; i += FIELDS) total += extents[i];
  return total;
}
const AUTO_COMPACT_RATIO = 0.5;
const AUTO_COMPACT_BYTES = 64 << 20;
const SEGMENT_BYTES = 256 << 20;
/** compact() copies values in commits of about this many bytes. */
const MOVE_BATCH = 64 << 20;
/** compact() copies a segment when at least 1/MOVE_SHARE of its bytes is garbage. */
const MOVE_SHARE = 4;
const COMMIT_LOG = 'commits.log';
/** A commit covers at most this many bytes of records (its length field is 32 bits); a call larger is several commits, written at once. */
const MAX_COMMIT = 1 << 30;
/** Values at least this large are written from the caller's buffer with a write of their own, not copied into the batch. */
const COPY_LIMIT = 64 << 10;

/** One record about to be written: its kind, key, value and stamp. */
interface Outgoing {
  kind: Kind;
  id: KeyId;
  /** The key's UTF-8 size (it is encoded straight into the batch). */
  keyLength: number;
  value: Uint8Array;
  stamp: number;
  /** MOVE: the segment the value is copied from (its offset is the stamp). */
  from?: number;
}

/** What compact() did. */
/** What stats() reports. */
export interface LogStats {
  keys: number;
  /** Value bytes of the live values. */
  liveBytes: number;
  /** Bytes of the segments, and how many of them no live value uses (what compact() can give back). */
  segmentBytes: number;
  garbageBytes: number;
  /** Entries of the commit log applied so far. */
  commits: number;
  /** An estimate of the index's memory (about 150 bytes per key of one value; docs/log.md). */
  indexBytes: number;
  /** The commit-log position of the checkpoint opening started from (0: none, the commit log was read from its start). */
  checkpointPosition: number;
  /** Records read from segments to build the index since opening: the tail past the checkpoint and other processes' writes. */
  scannedRecords: number;
  /** compact() runs of this process that the automatic policy started, and the last one's error, if it failed. */
  autoCompactions: number;
  autoCompactError?: string;
}

export interface CompactResult {
  /** Segment bytes before and after. */
  before: number;
  after: number;
  /** Values copied into a new segment, and segments removed. */
  moved: number;
  removed: number;
}

/** A batch this process wrote and committed, waiting to be applied when the commit log reaches its entry. */
interface Pending {
  start: number;
  records: IndexedRecord[];
}

/**
 * log(path): every key in a few append-only segment files. Each process that
 * writes gets a segment of its own; a shared commit log says, 32 bytes per
 * append call, which bytes of which segment come next. Every process applies
 * the commit log in order to an index in memory (key → where its values
 * are), so all agree on one order of the values. No lock per call: the
 * directory lock is taken only by withLock, pop, drop and compact.
 * docs/log.md has the layout and the guarantees.
 */
export class LogStore extends BytesStore {
  protected readonly layer = 'log';
  /** Every get reads into a new buffer. */
  override readonly freshGets = true;
  readonly path: string;
  readonly temporary: boolean;
  private readonly given: LogOptions;
  private index = new LogIndex();
  private readonly commits: CommitLog;
  private readonly reader: SegmentReader;
  private active?: ActiveSegment;
  private readonly pending: Pending[] = [];
  /** Commits position of the last checkpoint written or read. */
  private checkpointed = 0;
  private readonly directory: DirectoryLock;
  /** Exclusive across processes: withLock, drop, pop, compact. */
  private readonly cross: Mutex;
  /** Group commit (fsync mode): batches written but not yet committed, and the flush that will commit them. */
  private unsynced: { segment: number; start: number; length: number }[] = [];
  private flushing?: Promise<void>;
  /** See LogStats. */
  private openedAt = 0;
  private scannedRecords = 0;
  private autoCompactions = 0;
  private autoCompactError?: string;
  /** The automatic compaction: the directory lock without waiting, the run in flight, and the garbage it left. */
  private readonly autoDirectory: DirectoryLock;
  private readonly autoCross: Mutex;
  private autoCompacting?: Promise<void>;
  private garbageFloor = 0;
  private stopping = false;
  /** News of commits for followers (commit-watch.ts), made on the first follow(). */
  private commitWatch?: CommitWatch;

  constructor(path?: string, opts: LogOptions = {}) {
    super();
    this.given = opts;
    if (opts.maxDiskBytes !== undefined && !(opts.maxDiskBytes > 0)) throw typeError('ERR_INVALID_OPTION', 'log(): maxDiskBytes must be a number of bytes above 0.');
    if (opts.maxIndexBytes !== undefined && !(opts.maxIndexBytes > 0)) throw typeError('ERR_INVALID_OPTION', 'log(): maxIndexBytes must be a number of bytes above 0.');
    this.temporary = path === undefined;
    this.path = path === undefined ? fs.mkdtempSync(join(tmpdir(), 'laminate-log-')) : resolve(path);
    if (this.temporary) removeOnExit(this.path);
    else fs.mkdirSync(this.path, { recursive: true });
    this.commits = new CommitLog(join(this.path, COMMIT_LOG));
    this.reader = new SegmentReader(this.path, opts.readCacheBytes ?? READ_CACHE_BYTES);
    const settings = { staleMs: 10_000, timeoutMs: opts.lockTimeoutMs ?? 60_000, exclusive: false };
    this.directory = new DirectoryLock(this.path, settings, () => undefined);
    this.cross = new Mutex(this.directory.perCall(() => undefined));
    // Waits for nothing: a directory locked by another process (compacting, or in withLock) is left to it.
    this.autoDirectory = new DirectoryLock(this.path, { ...settings, timeoutMs: 0 }, () => undefined);
    this.autoCross = new Mutex(this.autoDirectory.perCall(() => undefined));
    for (const name of ['autoCompactRatio', 'autoCompactBytes'] as const) {
      const value = opts[name];
      if (value !== undefined && !(value >= 0)) throw typeError('ERR_INVALID_OPTION', `log(): ${name} must be a number of 0 or more.`);
    }
    this.load();
    // Garbage already there when opening counts as new: the first write past the trigger compacts.
  }

  /** On disk, so a reopened store finds it; each appended value is a record, so iter() yields them one by one. */
  override get supports(): Supports {
    return { reopen: true, iterChunks: true };
  }

  /** The checkpoint if it checks out, then the commit log past it; then the torn tails of dead writers are cut. */
  private load(): void {
    const checkpoint = readCheckpoint(this.path);
    if (checkpoint && checkpoint.position <= this.commits.size() && this.segmentsExist(checkpoint.index)) {
      this.index = checkpoint.index;
      this.commits.seek(checkpoint.position);
      this.checkpointed = checkpoint.position;
      this.openedAt = checkpoint.position;
    }
    this.refresh();
    this.cutDeadTails();
  }

  private segmentsExist(index: LogIndex): boolean {
    return [...index.segmentEnds.keys()].every((n) => fs.existsSync(join(this.path, segmentName(n))));
  }

  /**
   * A writer killed mid-append leaves bytes no commit covers at its
   * segment's end; they are never read, and once the writer is certainly gone
   * (same host, no such process) they are cut off.
   */
  private cutDeadTails(): void {
    for (const name of fs.readdirSync(this.path)) {
      const n = segmentNumber(name);
      if (n === undefined) continue;
      const path = join(this.path, name);
      // compact() in another process may have removed it since the listing.
      const size = fs.statSync(path, { throwIfNoEntry: false })?.size ?? 0;
      const end = this.index.segmentEnds.get(n) ?? 0;
      if (size <= end || !writerIsGone(this.reader.writerOf(n))) continue;
      try {
        // A segment with no commit keeps its first record (who wrote it), so it stays a segment.
        fs.truncateSync(path, Math.max(end, Math.min(size, headerEnd(this.reader, n))));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  /** Applies what the commit log holds past what this process has read: other processes' appends, and this one's. */
  private refresh(): void {
    try {
      this.commits.readNew((commit) => this.applyCommit(commit));
    } catch (error) {
      // compact() in another process removed a segment that commits not yet read here point into:
      // its checkpoint, written before the removal, takes over from past them.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const checkpoint = readCheckpoint(this.path);
      if (!checkpoint || checkpoint.position <= this.commits.position) throw error;
      this.index = checkpoint.index;
      this.commits.seek(checkpoint.position);
      this.checkpointed = checkpoint.position;
      const mine = this.active === undefined ? 0 : (this.index.segmentEnds.get(this.active.number) ?? 0);
      while (this.pending.length > 0 && this.pending[0].start < mine) this.pending.shift();
      this.refresh();
    }
  }

  private applyCommit(commit: Commit): void {
    const end = commit.start + commit.length;
    if (this.active !== undefined && commit.segment === this.active.number) {
      // This process's own batch: applied from memory, not read back.
      const batch = this.pending.shift();
      if (batch === undefined || batch.start !== commit.start) throw new LaminateError('ERR_CORRUPT_FRAME', `The commit log ${this.commits.path} lists segment ${commit.segment} at ${commit.start}, which this process did not commit there. Was the directory copied while in use?`);
      for (const record of batch.records) this.index.apply(record, commit.segment, commit.seq);
    } else {
      this.reader.scan(commit.segment, commit.start, end, (record) => {
        this.scannedRecords++;
        if (indexReadsValue(record.kind)) record.value = this.smallValue(commit.segment, record.valueOffset, record.valueLength, record.valueCrc, record.id);
        this.index.apply(record, commit.segment, commit.seq);
      });
    }
    this.index.committed(commit.segment, end);
  }

  /** The value of a record the index reads (a position, a consumer's name), checked against its checksum. */
  private smallValue(segment: number, offset: number, length: number, crc: number, id: KeyId): Uint8Array {
    const value = Buffer.allocUnsafe(length);
    if (!this.reader.readInto(segment, offset, value, 0, length)) throw damaged(this.path, segment, offset, 'the segment ends before the value does', showKey(id));
    if (checksum(value) !== crc) throw damaged(this.path, segment, offset, 'its checksum does not match', showKey(id));
    return value;
  }

  /** This process's segment, made on its first write. */
  private segment(): ActiveSegment {
    // With commits waiting for their group's fsync the segment must stay: they are applied in segment order.
    if (this.active !== undefined && this.unsynced.length === 0 && this.active.size >= (this.given.segmentBytes ?? SEGMENT_BYTES)) this.sealSegment();
    this.active ??= createSegment(this.path);
    return this.active;
  }

  /**
   * Says (in a committed record) that this process appends no more to its
   * segment, and lets go of it. Called with no commit waiting for an fsync;
   * the seal itself is not fsynced (lost in a crash, the segment is still
   * movable once its writer is gone).
   */
  private sealSegment(): void {
    const active = this.active;
    if (active === undefined) return;
    void this.write([this.outgoing(Kind.SEAL, '', EMPTY_BYTES)], false, active);
    fs.closeSync(active.fd);
    this.active = undefined;
  }

  /**
   * Writes records to this process's segment, then commits them. Without
   * fsync both happen now and the index takes them in; with fsync the commit
   * waits for the group's fsync, and the promise returned resolves when the
   * records are durable and visible.
   */
  private write(records: readonly Outgoing[], durable = this.given.fsync === true, segment = this.segment()): Promise<void> | undefined {
    let size = 0;
    for (const r of records) size += RECORD_HEADER + r.keyLength + r.value.byteLength;
    const limit = this.given.maxDiskBytes;
    if (limit !== undefined && this.index.segmentBytes() + (segment.size - (this.index.segmentEnds.get(segment.number) ?? 0)) + size > limit) {
      throw new LaminateError('ERR_DISK_FULL', `log(): this append of ${size} bytes would take the store at ${this.path} past maxDiskBytes (${limit}); nothing was stored. Delete keys and compact(), or raise maxDiskBytes.`);
    }
    const ranges: { segment: number; start: number; length: number }[] = [];
    const start = segment.size;
    const pieces: Uint8Array[] = [];
    let packed = Buffer.allocUnsafe(Math.min(size, 1 << 20));
    let fill = 0;
    let rangeStart = start;
    let at = start;
    let batch: IndexedRecord[] = [];
    const pending: Pending[] = [];
    // Ends the packed piece; a new one is made only when more records follow (`left` bytes of them at most).
    const flushPacked = (left: number) => {
      if (fill > 0) pieces.push(packed.subarray(0, fill));
      if (left > 0) packed = Buffer.allocUnsafe(Math.min(left, 1 << 20));
      fill = 0;
    };
    for (const r of records) {
      const recordSize = RECORD_HEADER + r.keyLength + r.value.byteLength;
      if (at > rangeStart && at + recordSize - rangeStart > MAX_COMMIT) {
        ranges.push({ segment: segment.number, start: rangeStart, length: at - rangeStart });
        pending.push({ start: rangeStart, records: batch });
        batch = [];
        rangeStart = at;
      }
      const large = r.value.byteLength >= COPY_LIMIT;
      const inline = large ? EMPTY_BYTES : r.value;
      const headSize = RECORD_HEADER + r.keyLength + inline.byteLength;
      const valueCrc = checksum(r.value);
      if (fill + headSize > packed.byteLength) flushPacked(size - (at - start));
      if (headSize > packed.byteLength) packed = Buffer.allocUnsafe(headSize);
      fill = writeRecord(packed, fill, r.kind, r.id, r.keyLength, inline, r.stamp, r.value.byteLength, valueCrc, r.from ?? 0);
      if (large) {
        flushPacked(size - (at - start) - recordSize);
        pieces.push(r.value);
      }
      const indexed: IndexedRecord = { kind: r.kind, id: r.id, keyLength: r.keyLength, valueOffset: at + RECORD_HEADER + r.keyLength, valueLength: r.value.byteLength, valueCrc, stamp: r.stamp, from: r.from ?? 0 };
      if (indexReadsValue(r.kind)) indexed.value = r.value;
      batch.push(indexed);
      at += recordSize;
    }
    flushPacked(0);
    ranges.push({ segment: segment.number, start: rangeStart, length: at - rangeStart });
    pending.push({ start: rangeStart, records: batch });
    this.writeAll(segment, pieces, size, records);
    segment.size += size;
    this.pending.push(...pending);
    if (durable) {
      this.unsynced.push(...ranges);
      return this.groupCommit();
    }
    this.commits.append(ranges);
    this.refresh();
    return undefined;
  }

  /** Writes every piece (`size` bytes in all); a write the disk cannot finish is cut back off the segment and reported. */
  private writeAll(segment: ActiveSegment, pieces: Uint8Array[], size: number, records: readonly Outgoing[]): void {
    let done = 0;
    try {
      // One write per piece: measured here, writev of a batch holding large values ran at a third to a half of the speed.
      for (const piece of pieces) {
        for (let at = 0; at < piece.byteLength; ) {
          const n = fs.writeSync(segment.fd, piece, at, piece.byteLength - at);
          at += n;
          done += n;
        }
      }
    } catch (error) {
      if (done > 0) fs.ftruncateSync(segment.fd, segment.size);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        const key = records[0] === undefined ? '' : ` (key ${showKey(records[0].id)} first)`;
        throw new LaminateError('ERR_DISK_FULL', `The disk is full while appending to the log at ${this.path}${key}; nothing from this call was stored. Free space and retry.`, { cause: error });
      }
      throw error;
    }
  }

  /** fsync mode: one fsync of the segment, then the commits of every batch written meanwhile, then one fsync of the commit log. */
  private groupCommit(): Promise<void> {
    this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(async () => {
      const ranges = this.unsynced;
      this.unsynced = [];
      this.flushing = undefined;
      await fdatasync(this.active!.fd);
      this.commits.append(ranges);
      await fdatasync(this.commits.descriptor);
      this.refresh();
    });
    return this.flushing;
  }

  private outgoing(kind: Kind, id: KeyId, value: Uint8Array, stamp = 0): Outgoing {
    return { kind, id, keyLength: utf8Length(id), value, stamp };
  }

  async appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    // The fsync (if any) is awaited outside the mutex, so that concurrent appends share it.
    const [synced] = await this.lock.run(() => {
      if (this.given.maxIndexBytes !== undefined) this.assertIndexRoom(ids, this.given.maxIndexBytes);
      return [this.write(ids.map((id, i) => this.outgoing(Kind.VALUE, id, values[i])))];
    }, NOT_REENTERED);
    await synced;
    this.considerCompacting();
  }

  /** maxIndexBytes: refuses, storing nothing, an append whose new keys and values would take the index's estimate past `limit`. */
  private assertIndexRoom(ids: readonly KeyId[], limit: number): void {
    this.refresh();
    const added = this.index.memoryAdded(ids);
    const now = this.index.memoryBytes();
    if (now + added > limit) {
      throw new LaminateError(
        'ERR_TOO_LARGE',
        `log(): this append would take the index of ${this.path} to about ${now + added} bytes of memory, past maxIndexBytes (${limit}); nothing was stored. Delete keys (the index forgets them at once), spread keys over more stores, or raise maxIndexBytes.`,
      );
    }
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    return this.lock.run(
      () => {
        this.refresh();
        return ids.map((id) => this.read(id, this.index.data.get(id), this.index.cutOf(id)));
      },
      NOT_REENTERED,
    );
  }

  /**
   * The values of `extents` joined, each checked against its checksum. The
   * result's size is known from the index, so values are read straight into
   * it (fresh memory, or what `room` gives for that many bytes); small
   * values through the block cache (block-cache.ts), so that the gets of
   * many keys read each stretch of a segment once; the bytes around a value
   * (headers, other keys) are never returned.
   */
  private read(id: KeyId, extents: Extents | undefined, cut = 0, room: (size: number) => Uint8Array = Buffer.allocUnsafe): Uint8Array {
    if (extents === undefined) return EMPTY_BYTES;
    const total = extentsSize(extents);
    const out = room(total);
    let at = 0;
    for (let i = 0; i < extents.length; i += FIELDS) {
      this.readExtent(id, extents, i, out, at);
      at += extents[i + 2];
    }
    // A trimmed key's first value may be cut by its start: read whole (its checksum covers it whole), returned from the start.
    return out.subarray(cut, total);
  }

  /** getView()'s buffer, reused from call to call: reads into it fault in no fresh memory. */
  private readonly scratch = new Scratch();

  /**
   * `key`'s bytes in memory this store reuses, as file().getView(): a view
   * of a scratch buffer that the next getView() or readInto() on this store
   * overwrites. Valid until then: copy what must outlive it. Every value is
   * checked against its checksum as get() checks it. Keys larger than
   * 64 MiB are read into memory of their own.
   */
  async getView(key: Key): Promise<Uint8Array> {
    this.assertOpen();
    return this.readIdInto(keyId(key), (size) => this.scratch.room(size));
  }

  /**
   * `id`'s bytes read into the memory `room` gives for their size (at least
   * that many bytes); a view of them there, which starts past the cut part
   * of a trimmed key's first value. buffer()'s getView() reads this way.
   */
  readIdInto(id: KeyId, room: (size: number) => Uint8Array): Promise<Uint8Array> {
    return this.lock.run(() => {
      this.refresh();
      return this.read(id, this.index.data.get(id), this.index.cutOf(id), room);
    }, NOT_REENTERED);
  }

  /**
   * Reads `key`'s bytes into the caller's `target`, from its start, and
   * returns how many there are: memory the caller owns and reuses. A key
   * larger than `target` is ERR_TOO_LARGE (its size is in the message and
   * the error's `size`), and `target` is then left as it was.
   */
  async readInto(key: Key, target: Uint8Array): Promise<number> {
    this.assertOpen();
    checkReadTarget(target);
    const id = keyId(key);
    return this.lock.run(() => {
      this.refresh();
      const extents = this.index.data.get(id);
      if (extents === undefined) return 0;
      const cut = this.index.cutOf(id);
      const total = extentsSize(extents);
      if (total - cut > target.byteLength) throw tooLargeForTarget(id, total - cut, target);
      // A trimmed key's cut first value is read whole, by the scratch buffer, so target past the key's bytes stays as it was.
      if (cut === 0) return this.read(id, extents, 0, () => target).byteLength;
      const bytes = this.read(id, extents, cut, (size) => this.scratch.room(size));
      target.set(bytes);
      return bytes.byteLength;
    }, NOT_REENTERED);
  }

  private readExtent(id: KeyId, extents: Extents, i: number, out: Uint8Array, at: number, cached = true): void {
    const segment = extents[i];
    const offset = extents[i + 1];
    const length = extents[i + 2];
    const crc = extents[i + 3];
    const whole = cached ? this.reader.readValue(segment, offset, out, at, length) : this.reader.readInto(segment, offset, out, at, length);
    if (!whole) throw damaged(this.path, segment, offset, 'the segment ends before the value does', showKey(id));
    if (length > 0 && crc32Of(out, at, at + length) !== crc) throw damaged(this.path, segment, offset, 'its checksum does not match', showKey(id));
  }

  /** Reads only the values that overlap each range. */
  override readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return this.lock.run(() => {
      this.refresh();
      return ranges.map(({ id, offset, length }) => this.readRange(id, offset, length));
    });
  }

  /** `length` bytes of what `id` holds (from its start), from `offset`; the caller holds the lock and refreshed. */
  private readRange(id: KeyId, offset: number, length: number): Uint8Array {
    const extents = this.index.data.get(id);
    if (extents === undefined) return EMPTY_BYTES;
    const parts: Uint8Array[] = [];
    // Positions in the values: a trimmed key's first value starts before what the key holds.
    let position = -this.index.cutOf(id);
    const end = offset + length;
    for (let i = 0; i < extents.length && position < end; i += FIELDS) {
      const size = extents[i + 2];
      if (position + size > offset) {
        const whole = Buffer.allocUnsafe(size);
        this.readExtent(id, extents, i, whole, 0);
        parts.push(whole.subarray(Math.max(0, offset - position), Math.min(size, end - position)));
      }
      position += size;
    }
    return parts.length === 1 ? parts[0] : parts.length === 0 ? EMPTY_BYTES : Buffer.concat(parts);
  }

  override sizeIds(ids: readonly KeyId[]): Promise<number[]> {
    this.refresh();
    return Promise.resolve(ids.map((id) => this.index.sizeOf(id)));
  }

  /** The values one by one, each read when it is reached. */
  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    const [extents, cut] = await this.lock.run(() => {
      this.refresh();
      return [this.index.data.get(id)?.slice(), this.index.cutOf(id)] as const;
    });
    if (extents === undefined) return;
    for (let i = 0; i < extents.length; i += FIELDS) {
      const out = Buffer.allocUnsafe(extents[i + 2]);
      this.readExtent(id, extents, i, out, 0);
      // A value the key's start cuts yields its part from the start.
      yield i === 0 && cut > 0 ? out.subarray(cut) : out;
    }
  }

  /**
   * A tombstone per key that holds something. It removes what was committed
   * before it (what this process had read), and spares a value another
   * process appended meanwhile.
   */
  async deleteIds(ids: readonly KeyId[]): Promise<void> {
    await this.flushing;
    const synced = await this.lock.run(() => {
      this.refresh();
      const stamp = this.commits.position;
      // A sealed key holding nothing still gets its tombstone: it takes the seal back.
      const present = [...new Set(ids)].filter((id) => this.index.data.has(id) || this.index.seals.has(id) || this.index.retention.has(id));
      return [present.length === 0 ? undefined : this.write(present.map((id) => this.outgoing(Kind.DELETE, id, EMPTY_BYTES, stamp)))];
    });
    await synced[0];
    this.considerCompacting();
  }

  /**
   * get + delete without the directory lock: the tombstone removes exactly
   * what was read (the commits up to the read), and a value another process
   * appends meanwhile stays for the next reader.
   */
  override async popId(id: KeyId): Promise<Uint8Array> {
    await this.flushing;
    const [value, synced] = await this.lock.run(() => {
      this.refresh();
      const extents = this.index.data.get(id);
      const read = this.read(id, extents, this.index.cutOf(id));
      const holds = extents !== undefined || this.index.seals.has(id) || this.index.retention.has(id);
      return [read, holds ? this.write([this.outgoing(Kind.DELETE, id, EMPTY_BYTES, this.commits.position)]) : undefined] as const;
    });
    await synced;
    this.considerCompacting();
    return value;
  }

  listIds(): Promise<KeyId[]> {
    return this.lock.run(() => {
      this.refresh();
      return [...this.index.data.keys()];
    });
  }

  /** First value committed wins, in every process (the commit log decides). */
  async isetId(id: KeyId, value: Uint8Array): Promise<void> {
    await this.flushing;
    const synced = await this.lock.run(() => {
      this.refresh();
      return [this.index.meta.has(id) ? undefined : this.write([this.outgoing(Kind.ISET, id, value)])];
    });
    await synced[0];
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.lock.run(() => {
      this.refresh();
      const extents = this.index.meta.get(id);
      return extents === undefined ? undefined : this.read(id, extents);
    });
  }

  // Streams (follow.ts). A seal is a record like an append, so every process
  // sees it, it survives a reopen, a crash once acknowledged, and compact();
  // a delete or drop committed after it takes it back. Two processes sealing
  // at once each write their seal to their own segment and commit it: the
  // commit log orders them like everything else, and the first seal committed
  // wins in every process. KEY_SEAL is sealed at the key's length at its
  // commit: every value committed before the seal is in the stream, none
  // committed after, whichever process appended it.

  /** Seals `id` where its stream stands when the seal is committed; a key sealed already stays as it is. */
  override sealId(id: KeyId): Promise<void> {
    return this.writeSeal(id, Kind.KEY_SEAL, 0);
  }

  /** Seals `id` at `length` bytes (buffer() over log() knows its own length); the first seal stays. */
  override sealAtId(id: KeyId, length: number): Promise<void> {
    return this.writeSeal(id, Kind.KEY_SEAL_AT, length);
  }

  private async writeSeal(id: KeyId, kind: Kind.KEY_SEAL | Kind.KEY_SEAL_AT, stamp: number): Promise<void> {
    await this.flushing;
    const synced = await this.lock.run(() => {
      this.refresh();
      return [this.index.seals.has(id) ? undefined : this.write([this.outgoing(kind, id, EMPTY_BYTES, stamp)])];
    });
    await synced[0];
  }

  /**
   * Up to `max` bytes of `id` from the position `offset`, never past its
   * seal: a follower that learns of the seal only after reading (a value
   * appended right after it was committed with it) still stops where the
   * stream ends. Positions count the trimmed bytes (retention.ts): one before
   * the key's start is ERR_TRIMMED. The start, the seal and the bytes are
   * read in one section, so a trim cannot fall between them.
   */
  override readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    return this.lock.run(() => {
      this.refresh();
      const start = this.index.startOf(id);
      if (offset < start) throw trimmedError(id, start, offset);
      const sealed = this.index.seals.get(id)?.length;
      const length = sealed === undefined ? max : Math.min(max, sealed - offset);
      return length > 0 ? this.readRange(id, offset - start, length) : EMPTY_BYTES;
    }, NOT_REENTERED);
  }

  override sealedId(id: KeyId): Promise<number | undefined> {
    return this.lock.run(() => {
      this.refresh();
      return this.index.seals.get(id)?.length;
    }, NOT_REENTERED);
  }

  /** Followers of any key wake when the commit log grows (commit-watch.ts), and poll slowly in case a notification is lost. */
  override watchId(_id: KeyId, pollMs?: number): ChangeWatch {
    this.commitWatch ??= new CommitWatch(this.commits.path);
    return this.commitWatch.watch(pollMs);
  }

  // Retention (retention.ts). A trim, a consumer's commit and a forget are
  // records too, ordered by the commit log like everything else, so every
  // process agrees on a key's start and its consumers, and they survive a
  // reopen, a crash once acknowledged, and compact() (which copies the live
  // ones out of the segments it removes). A trim drops the key's values that
  // lie wholly before the new start from the index; compact() gives their
  // space back. A delete or drop takes back the start and the consumers.

  override startId(id: KeyId): Promise<number> {
    return this.lock.run(() => {
      this.refresh();
      return this.index.startOf(id);
    }, NOT_REENTERED);
  }

  /** Records `consumer`'s position on `id`; one at or below the position it committed changes nothing. */
  override async commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    await this.flushing;
    const synced = await this.lock.run(() => {
      this.refresh();
      const length = this.index.startOf(id) + this.index.sizeOf(id);
      if (position > length) {
        throw typeError('ERR_INVALID_OPTION', `commit(): position ${position} is past the end of key ${showKey(id)} (${length}); commit a position a follower gave. Nothing was committed.`, { key: showKey(id), offset: position });
      }
      const known = this.index.retention.get(id)?.consumers.get(consumer);
      if (known !== undefined && known.position >= position) return [undefined];
      return [this.write([this.outgoing(Kind.CONSUMER, id, positionValue(position, consumer))])];
    });
    await synced[0];
  }

  override consumersId(id: KeyId): Promise<Consumer[]> {
    return this.lock.run(() => {
      this.refresh();
      const consumers = this.index.retention.get(id)?.consumers ?? new Map<string, { position: number }>();
      return byName([...consumers].map(([consumer, { position }]) => ({ consumer, position })));
    });
  }

  override async forgetId(id: KeyId, consumer: string): Promise<void> {
    await this.flushing;
    const synced = await this.lock.run(() => {
      this.refresh();
      if (this.index.retention.get(id)?.consumers.has(consumer) !== true) return [undefined];
      return [this.write([this.outgoing(Kind.FORGET, id, Buffer.from(consumer, 'utf8'))])];
    });
    await synced[0];
  }

  /**
   * A TRIM record moving `id`'s start to `position` (by default the lowest
   * position its consumers committed; retention.ts trimTarget()). Its stamp
   * is what this process had read, so a value appended elsewhere meanwhile is
   * never dropped unseen.
   */
  override async trimId(id: KeyId, position?: number): Promise<void> {
    await this.flushing;
    const synced = await this.lock.run(() => {
      this.refresh();
      const start = this.index.startOf(id);
      const consumers = [...(this.index.retention.get(id)?.consumers ?? [])].map(([consumer, known]) => ({ consumer, position: known.position }));
      const to = trimTarget(id, position, start, start + this.index.sizeOf(id), consumers);
      if (to === undefined) return [undefined];
      return [this.write([this.outgoing(Kind.TRIM, id, positionValue(to), this.commits.position)])];
    });
    await synced[0];
    this.considerCompacting();
  }

  /** A drop record: everything committed before it is gone for every reader; compact() gives the space back. */
  protected async dropAll(): Promise<void> {
    await this.flushing;
    this.refresh();
    await this.write([this.outgoing(Kind.DROP, '', EMPTY_BYTES, this.commits.position)]);
  }

  /** Exclusive across processes (the directory lock) and within this one. */
  override withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.lock.run(() => this.cross.run(fn));
  }

  /** How much of the segments is live, and what the index costs. */
  stats(): LogStats {
    this.refresh();
    const index = this.index;
    return {
      keys: index.data.size,
      liveBytes: index.liveBytes,
      segmentBytes: index.segmentBytes(),
      garbageBytes: index.garbageBytes(),
      commits: this.commits.position,
      indexBytes: index.memoryBytes(),
      checkpointPosition: this.openedAt,
      scannedRecords: this.scannedRecords,
      autoCompactions: this.autoCompactions,
      ...(this.autoCompactError === undefined ? {} : { autoCompactError: this.autoCompactError }),
    };
  }

  /**
   * The automatic policy: once the garbage is at least autoCompactBytes, has
   * grown by that much since this process last compacted (what compact()
   * cannot move — other writers' open segments — stays garbage until they
   * seal them), and is at least autoCompactRatio of the segments, compact()
   * runs after the current call, before the next one of this process (a
   * call made inside withLock: within the section, where the directory
   * lock is already this process's, so the round is skipped; drop() is
   * followed by the next write's check). It takes the directory
   * lock without waiting: when another process holds it (compacting, or in
   * withLock) this round is left to that process. An error is kept for
   * stats() (autoCompactError), never thrown into an unrelated call.
   */
  private considerCompacting(): void {
    if (this.given.autoCompact === false || this.autoCompacting !== undefined || this.stopping) return;
    const garbage = this.index.garbageBytes();
    // Another process's compaction may have taken the garbage below what this one left: count growth from there.
    if (garbage < this.garbageFloor) this.garbageFloor = garbage;
    const least = this.given.autoCompactBytes ?? AUTO_COMPACT_BYTES;
    if (garbage < least || garbage - this.garbageFloor < least || garbage < (this.given.autoCompactRatio ?? AUTO_COMPACT_RATIO) * this.index.segmentBytes()) return;
    // Queued now, so that it runs before the next call of this process.
    this.autoCompacting = this.lock
      .run(async () => {
        if (this.stopping) return;
        try {
          await this.autoCross.run(async () => {
            await this.compactHeld();
            this.autoCompactions++;
            this.autoCompactError = undefined;
          });
        } catch (error) {
          if ((error as LaminateError).code !== 'ERR_LOCKED') this.autoCompactError = (error as Error).message;
        }
        this.garbageFloor = this.index.garbageBytes();
      })
      .catch(() => undefined)
      .finally(() => {
        this.autoCompacting = undefined;
      });
  }

  /** Writes the index checkpoint now (close does it when checkpointEvery commits were read since the last one). */
  checkpoint(): Promise<void> {
    return this.lock.run(() => {
      this.refresh();
      writeCheckpoint(this.path, this.index, this.commits.position);
      this.checkpointed = this.commits.position;
    });
  }

  /**
   * Copies the live values out of sealed segments and those of writers that
   * are gone, then removes every such segment no value points into any
   * more. Other processes read and append meanwhile: a MOVE record points
   * each value at its copy only if the value is still there, the checkpoint
   * is written before any segment is removed, and a process that finds a
   * segment removed resumes from that checkpoint. A crash at any step leaves
   * either the old places or the copies in use, and segments no value uses,
   * which the next compact() removes.
   */
  compact(): Promise<CompactResult> {
    return this.withLock(() => this.compactHeld());
  }

  /** compact() with the directory lock held. */
  private async compactHeld(): Promise<CompactResult> {
    {
      await this.flushing;
      this.refresh();
      this.sealSegment();
      const before = this.index.segmentBytes();
      const movable = this.movableSegments();
      let moved = 0;
      for (const [kind, map] of [[Kind.MOVE, this.index.data], [Kind.MOVE_ISET, this.index.meta]] as const) {
        let batch: Outgoing[] = [];
        let bytes = 0;
        for (const [id, extents] of [...map]) {
          for (let i = 0; i < extents.length; i += FIELDS) {
            if (!movable.has(extents[i])) continue;
            const value = Buffer.allocUnsafe(extents[i + 2]);
            this.readExtent(id, extents, i, value, 0, false);
            batch.push({ ...this.outgoing(kind, id, value, extents[i + 1]), from: extents[i] });
            bytes += value.byteLength;
            moved++;
            if (bytes >= MOVE_BATCH) {
              await this.write(batch);
              [batch, bytes] = [[], 0];
            }
          }
        }
        if (batch.length > 0) await this.write(batch);
      }
      // The live seals in those segments are written again at their length, naming the segment they leave.
      const kept: Outgoing[] = [];
      for (const [id, seal] of this.index.seals) {
        if (movable.has(seal.segment)) kept.push({ ...this.outgoing(Kind.KEY_SEAL_AT, id, EMPTY_BYTES, seal.length), from: seal.segment });
      }
      // And the live trims and consumer positions, at their values.
      for (const [id, retention] of this.index.retention) {
        if (retention.trim !== undefined && movable.has(retention.trim.segment)) kept.push({ ...this.outgoing(Kind.TRIM, id, positionValue(retention.start)), from: retention.trim.segment });
        for (const [consumer, known] of retention.consumers) {
          if (movable.has(known.segment)) kept.push({ ...this.outgoing(Kind.CONSUMER, id, positionValue(known.position, consumer)), from: known.segment });
        }
      }
      if (kept.length > 0) await this.write(kept);
      this.refresh();
      const used = this.index.referenced();
      // The highest-numbered segment stays, even unused: a new segment takes the next number after the highest
      // there is, and a number used again would be a different file to a process still holding the old one.
      const highest = Math.max(0, ...fs.readdirSync(this.path).map((name) => segmentNumber(name) ?? 0));
      const removable = [...movable].filter((n) => !used.has(n) && n !== highest);
      for (const n of removable) {
        this.index.segmentEnds.delete(n);
        this.index.sealed.delete(n);
        this.index.segmentLive.delete(n);
      }
      writeCheckpoint(this.path, this.index, this.commits.position);
      this.checkpointed = this.commits.position;
      for (const n of removable) {
        this.reader.forget(n);
        fs.rmSync(join(this.path, segmentName(n)), { force: true });
      }
      this.garbageFloor = this.index.garbageBytes();
      return { before, after: this.index.segmentBytes(), moved, removed: removable.length };
    }
  }

  /**
   * Segments worth copying: no writer appends to them any more (sealed, or
   * written by a process that is gone) and at least a quarter of their bytes
   * is garbage. A segment mostly live (one a compaction wrote, a writer's
   * sealed one with nothing deleted) stays as it is, so compacting again
   * does not copy the same values over and over.
   */
  private movableSegments(): Set<number> {
    const out = new Set<number>();
    for (const name of fs.readdirSync(this.path)) {
      const n = segmentNumber(name);
      if (n === undefined || n === this.active?.number) continue;
      const size = this.index.segmentEnds.get(n) ?? 0;
      if (this.index.segmentGarbage(n) * MOVE_SHARE < size) continue;
      if (this.index.sealed.has(n) || writerIsGone(this.reader.writerOf(n))) out.add(n);
    }
    return out;
  }

  protected async closeStore(): Promise<void> {
    this.stopping = true;
    await this.autoCompacting;
    await this.flushing;
    await this.lock.run(() => {
      try {
        this.refresh();
        this.sealSegment();
        if (this.index.applied >= (this.given.checkpointEvery ?? 4096) && this.commits.position > this.checkpointed) writeCheckpoint(this.path, this.index, this.commits.position);
      } finally {
        if (this.active) fs.closeSync(this.active.fd);
        this.active = undefined;
        this.reader.close();
        this.commitWatch?.close();
        this.commits.close();
        this.directory.close();
        this.autoDirectory.close();
      }
    });
    await this.cross.releaseIdle();
    await this.autoCross.releaseIdle();
    if (this.temporary) {
      fs.rmSync(this.path, { recursive: true, force: true });
      removedByStore(this.path);
    }
  }

  describe(): StoreSpec {
    const spec: StoreSpec = { type: 'log', path: this.path };
    for (const name of SPEC_OPTIONS) if (this.given[name] !== undefined) spec[name] = this.given[name];
    return spec;
  }
}

/** Where a segment's first record (who writes it) ends. */
function headerEnd(reader: SegmentReader, segment: number): number {
  const head = Buffer.allocUnsafe(RECORD_HEADER);
  if (!reader.readInto(segment, 0, head, 0, RECORD_HEADER)) return 0;
  return RECORD_HEADER + head.readUInt32LE(12) + head.readUInt32LE(16);
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((done, fail) => fs.fdatasync(fd, (error) => (error ? fail(error) : done())));
}

export function log(path?: string, opts?: LogOptions): LogStore {
  return new LogStore(path, opts);
}

export { CHECKPOINT_NAME, COMMIT_LOG };

registerLayer('log', {
  positional: 'path',
  options: SPEC_OPTIONS,
  open: (spec) => {
    const { type: _type, path, ...opts } = spec;
    return log(path as string | undefined, opts as LogOptions);
  },
});
