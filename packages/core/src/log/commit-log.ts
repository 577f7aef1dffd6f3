import * as fs from 'node:fs';
import { crc32Of } from './crc.js';
import { LaminateError } from '../errors.js';
import { readU64, writeU64 } from './record.js';

/**
 * The commit log: the one file every process of a log() directory appends to,
 * 32 bytes per append call. An entry says "segment S's bytes [start, start +
 * length) are committed"; the order of the entries is the order of the
 * store. Writers append with O_APPEND in one write of whole entries; on a
 * local Linux file system that write is atomic (it holds the inode lock, and
 * 32-byte entries never straddle a page), so entries never interleave and a
 * reader finds either the whole entry or none of it.
 *
 *   0  u32  magic
 *   4  u32  kind (1: commit)
 *   8  u32  segment number
 *   12 u32  zero
 *   16 u64  start
 *   24 u32  length
 *   28 u32  CRC-32 of bytes 0..28
 */
export const ENTRY = 32;
const MAGIC = 0x4c4d4354;
export const COMMIT = 1;

export interface Commit {
  /** Position of the entry in the log: 0 for the first. */
  seq: number;
  segment: number;
  start: number;
  length: number;
}

export class CommitLog {
  private readonly fd: number;
  /** Entries read so far; the next read starts after them. */
  private read = 0;
  private readonly scratch = Buffer.allocUnsafe(64 * ENTRY);

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o644);
  }

  /** How many entries have been read. */
  get position(): number {
    return this.read;
  }

  /** Continues reading at entry `seq` (after a checkpoint that covers the ones before). */
  seek(seq: number): void {
    this.read = seq;
  }

  /** Entries in the file now (whole ones). */
  size(): number {
    return Math.floor(fs.fstatSync(this.fd).size / ENTRY);
  }

  /** Appends commits for `ranges` in one write, so that one call's ranges stay together. */
  append(ranges: readonly { segment: number; start: number; length: number }[]): void {
    const out = Buffer.alloc(ranges.length * ENTRY);
    ranges.forEach((range, i) => encode(out, i * ENTRY, range.segment, range.start, range.length));
    let done = 0;
    while (done < out.byteLength) done += fs.writeSync(this.fd, out, done, out.byteLength - done);
  }

  /** Calls `each` for every entry appended since the last read, in order. */
  readNew(each: (commit: Commit) => void): void {
    for (;;) {
      const n = fs.readSync(this.fd, this.scratch, 0, this.scratch.byteLength, this.read * ENTRY);
      const whole = Math.floor(n / ENTRY);
      for (let i = 0; i < whole; i++) {
        // Counted once applied: an entry whose apply fails is read again next time.
        each(decode(this.scratch, i * ENTRY, this.read, this.path));
        this.read++;
      }
      if (n < this.scratch.byteLength) return;
    }
  }

  fsync(): void {
    fs.fsyncSync(this.fd);
  }

  /** The descriptor, for an asynchronous fsync (group commit). */
  get descriptor(): number {
    return this.fd;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function encode(out: Buffer, at: number, segment: number, start: number, length: number): void {
  out.writeUInt32LE(MAGIC, at);
  out.writeUInt32LE(COMMIT, at + 4);
  out.writeUInt32LE(segment, at + 8);
  writeU64(out, at + 16, start);
  out.writeUInt32LE(length, at + 24);
  out.writeUInt32LE(crc32Of(out, at, at + 28), at + 28);
}

function decode(bytes: Buffer, at: number, seq: number, path: string): Commit {
  if (bytes.readUInt32LE(at) !== MAGIC || crc32Of(bytes, at, at + 28) !== bytes.readUInt32LE(at + 28) || bytes.readUInt32LE(at + 4) !== COMMIT) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `The commit log ${path} is damaged at entry ${seq} (byte ${seq * ENTRY}): its checksum does not match. Restore the directory from a copy; the entries before it are intact.`, { offset: seq * ENTRY });
  }
  return { seq, segment: bytes.readUInt32LE(at + 8), start: readU64(bytes, at + 16), length: bytes.readUInt32LE(at + 24) };
}
