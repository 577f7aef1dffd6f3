import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LaminateError } from '../errors.js';
import { processAlive } from '../processes.js';
import { BLOCK, BlockCache } from './block-cache.js';
import { Kind, RECORD_HEADER, type RecordHead, announcedKeyLength, readHead, writeRecord } from './record.js';

/** Segment files are named by number: 00000001.seg, 00000002.seg, … */
export const SEGMENT_SUFFIX = '.seg';

export function segmentName(n: number): string {
  return String(n).padStart(8, '0') + SEGMENT_SUFFIX;
}

export function segmentNumber(name: string): number | undefined {
  const m = /^(\d{8,})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The writer recorded in a segment's first record. */
export interface SegmentWriter {
  pid: number;
  host: string;
}

/** A record found by a scan: its head, its key and where its value starts in the segment. */
export interface ScannedRecord extends RecordHead {
  id: string;
  valueOffset: number;
  /** The value, read by the store for the kinds the index reads the value of (indexReadsValue()). */
  value?: Uint8Array;
}

/** A segment this process appends to: made with O_EXCL under the next free number, so writers never share one. */
export interface ActiveSegment {
  number: number;
  fd: number;
  /** Bytes written so far (the next record starts here). */
  size: number;
}

export function createSegment(dir: string): ActiveSegment {
  let next = 1;
  for (const name of fs.readdirSync(dir)) next = Math.max(next, (segmentNumber(name) ?? 0) + 1);
  for (;; next++) {
    let fd: number;
    try {
      fd = fs.openSync(join(dir, segmentName(next)), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    const who = Buffer.from(JSON.stringify({ pid: process.pid, host: hostname() } satisfies SegmentWriter));
    const head = Buffer.allocUnsafe(RECORD_HEADER + who.byteLength);
    writeRecord(head, 0, Kind.SEGMENT, '', 0, who, 0);
    fs.writeSync(fd, head);
    return { number: next, fd, size: head.byteLength };
  }
}

/** Is the process that wrote this segment certainly gone? (Only a process on this host can tell.) */
export function writerIsGone(writer: SegmentWriter | undefined): boolean {
  if (!writer || writer.host !== hostname()) return false;
  if (writer.pid === process.pid) return false;
  return !processAlive(writer.pid);
}

const WINDOW = 64 << 10;
/** Values up to this size are read through the block cache; larger ones straight into their buffer. */
const CACHED_VALUE = BLOCK / 4;

/** Reading segments: one read descriptor per segment, opened on first use, and the block cache. */
export class SegmentReader {
  private readonly fds = new Map<number, number>();
  private window = Buffer.allocUnsafe(WINDOW);
  private readonly cache?: BlockCache;

  constructor(
    private readonly dir: string,
    /** Bytes of the block cache (0: none). */
    cacheBytes = 0,
  ) {
    if (cacheBytes >= BLOCK) {
      this.cache = new BlockCache(cacheBytes, (segment, position, into) => {
        let done = 0;
        for (let n; done < into.byteLength && (n = fs.readSync(this.fd(segment), into, done, into.byteLength - done, position + done)) > 0; ) done += n;
        return done;
      });
    }
  }

  /** readInto, through the block cache for a small value. */
  readValue(segment: number, position: number, out: Uint8Array, at: number, length: number): boolean {
    if (this.cache === undefined || length > CACHED_VALUE) return this.readInto(segment, position, out, at, length);
    return this.cache.copy(segment, position, out, at, length);
  }

  private fd(segment: number): number {
    let fd = this.fds.get(segment);
    if (fd === undefined) {
      fd = fs.openSync(join(this.dir, segmentName(segment)), 'r');
      this.fds.set(segment, fd);
    }
    return fd;
  }

  /** Reads exactly `length` bytes at `position` into `out` at `at`; false when the segment ends first. */
  readInto(segment: number, position: number, out: Uint8Array, at: number, length: number): boolean {
    const fd = this.fd(segment);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, out, at + done, length - done, position + done);
      if (n === 0) return false;
      done += n;
    }
    return true;
  }

  /**
   * The records in `[start, end)` of a segment, in order. Reads a window at a
   * time and skips the values that do not fit in one, so a scan of large
   * values reads their headers only.
   */
  scan(segment: number, start: number, end: number, each: (record: ScannedRecord) => void): void {
    let windowStart = 0;
    let windowEnd = 0;
    const load = (position: number, need: number): boolean => {
      if (position >= windowStart && position + need <= windowEnd) return true;
      const size = Math.min(Math.max(need, WINDOW), end - position);
      if (size < need) return false;
      if (this.window.byteLength < size) this.window = Buffer.allocUnsafe(size);
      if (!this.readInto(segment, position, this.window, 0, size)) return false;
      windowStart = position;
      windowEnd = position + size;
      return true;
    };
    for (let at = start; at < end; ) {
      if (!load(at, RECORD_HEADER)) throw damaged(this.dir, segment, at, 'the record runs past what was committed');
      const keyLength = announcedKeyLength(this.window, at - windowStart);
      if (keyLength > end - at || !load(at, RECORD_HEADER + keyLength)) throw damaged(this.dir, segment, at, 'its header is damaged');
      const head = readHead(this.window, at - windowStart);
      if (!head) throw damaged(this.dir, segment, at, 'its header checksum does not match');
      const keyAt = at - windowStart + RECORD_HEADER;
      const id = this.window.toString('utf8', keyAt, keyAt + head.keyLength);
      const valueOffset = at + RECORD_HEADER + head.keyLength;
      if (valueOffset + head.valueLength > end) throw damaged(this.dir, segment, at, 'the record runs past what was committed');
      each({ ...head, id, valueOffset });
      at = valueOffset + head.valueLength;
    }
  }

  /** Who writes `segment` (its first record), or undefined when it cannot be read. */
  writerOf(segment: number): SegmentWriter | undefined {
    try {
      const head = Buffer.allocUnsafe(RECORD_HEADER);
      if (!this.readInto(segment, 0, head, 0, RECORD_HEADER)) return undefined;
      const record = readHead(Buffer.concat([head]), 0);
      if (!record || record.kind !== Kind.SEGMENT) return undefined;
      const body = Buffer.allocUnsafe(record.valueLength);
      if (!this.readInto(segment, RECORD_HEADER + record.keyLength, body, 0, body.byteLength)) return undefined;
      return JSON.parse(body.toString('utf8')) as SegmentWriter;
    } catch {
      return undefined;
    }
  }

  /** Forgets a segment's descriptor (it was removed). */
  forget(segment: number): void {
    const fd = this.fds.get(segment);
    if (fd !== undefined) fs.closeSync(fd);
    this.fds.delete(segment);
    this.cache?.forget(segment);
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
    this.cache?.clear();
  }
}

export function damaged(dir: string, segment: number, offset: number, why: string, key?: string): LaminateError {
  const what = key === undefined ? 'A record' : `The value of key ${key}`;
  return new LaminateError(
    'ERR_CORRUPT_FRAME',
    `${what} in segment ${join(dir, segmentName(segment))} at byte ${offset} is damaged (${why}). The other keys still read; delete the key to go on without it, or restore the directory from a copy.`,
    { offset, ...(key === undefined ? {} : { key }) },
  );
}
