import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type Extents, FIELDS, type KeyRetention, LogIndex } from './log-index.js';
import { RECORD_HEADER, readU64, writeU64 } from './record.js';

/**
 * The index checkpoint: the index as of commit-log entry `position`, so that
 * opening a large store reads the commit log (and the segments) only past it.
 * Written aside and renamed into place, so a reader finds the old checkpoint
 * or the new one, never half of one; a checkpoint that does not check out is
 * ignored and the commit log is read from the start instead.
 *
 *   u32 magic, u32 version, u64 position
 *   u32 segments, then (u32 segment, u64 committed end) each
 *   u32 sealed segments, then u32 each
 *   u32 keys, then (u32 key bytes, key, u32 numbers, f64 × numbers) each — the data
 *   the same for the iset values
 *   u32 seals, then (u32 key bytes, key, f64 length, u32 segment, f64 seq) each
 *   u32 retained keys, then each: u32 key bytes, key, f64 start, f64 dropped,
 *     u32 trim segment (0: not trimmed), f64 trim seq, u32 trim bytes,
 *     u32 consumers, then (u32 name bytes, name, f64 position, u32 segment,
 *     f64 seq, u32 bytes) each
 *   u32 CRC-32 of everything before it
 *
 * Version 1 had no seals and version 2 no retention (log() kept none then);
 * both are still read.
 */
export const CHECKPOINT_NAME = 'checkpoint.idx';
const MAGIC = 0x4b434d4c;
const VERSION = 3;
const WITHOUT_SEALS = 1;
const WITHOUT_RETENTION = 2;

export function writeCheckpoint(dir: string, index: LogIndex, position: number): number {
  const maps = [index.data, index.meta];
  let size = 16 + 4 + index.segmentEnds.size * 12 + 4 + index.sealed.size * 4 + 4;
  const keys = maps.map((map) => [...map].map(([id, extents]) => [Buffer.from(id, 'utf8'), extents] as const));
  for (const list of keys) {
    size += 4;
    for (const [key, extents] of list) size += 8 + key.byteLength + extents.length * 8;
  }
  const seals = [...index.seals].map(([id, seal]) => [Buffer.from(id, 'utf8'), seal] as const);
  size += 4;
  for (const [key] of seals) size += 4 + key.byteLength + 20;
  const retained = [...index.retention].map(([id, retention]) => [Buffer.from(id, 'utf8'), retention, [...retention.consumers].map(([name, consumer]) => [Buffer.from(name, 'utf8'), consumer] as const)] as const);
  size += 4;
  for (const [key, , consumers] of retained) {
    size += 4 + key.byteLength + 36;
    for (const [name] of consumers) size += 4 + name.byteLength + 24;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  writeU64(out, 8, position);
  at = 16;
  out.writeUInt32LE(index.segmentEnds.size, at);
  at += 4;
  for (const [segment, end] of index.segmentEnds) {
    out.writeUInt32LE(segment, at);
    writeU64(out, at + 4, end);
    at += 12;
  }
  out.writeUInt32LE(index.sealed.size, at);
  at += 4;
  for (const segment of index.sealed) at = out.writeUInt32LE(segment, at);
  for (const list of keys) {
    out.writeUInt32LE(list.length, at);
    at += 4;
    for (const [key, extents] of list) {
      out.writeUInt32LE(key.byteLength, at);
      out.set(key, at + 4);
      at += 4 + key.byteLength;
      out.writeUInt32LE(extents.length, at);
      at += 4;
      for (const n of extents) at = out.writeDoubleLE(n, at);
    }
  }
  at = out.writeUInt32LE(seals.length, at);
  for (const [key, seal] of seals) {
    at = out.writeUInt32LE(key.byteLength, at);
    out.set(key, at);
    at = out.writeDoubleLE(seal.length, at + key.byteLength);
    at = out.writeUInt32LE(seal.segment, at);
    at = out.writeDoubleLE(seal.seq, at);
  }
  at = out.writeUInt32LE(retained.length, at);
  for (const [key, retention, consumers] of retained) {
    at = out.writeUInt32LE(key.byteLength, at);
    out.set(key, at);
    at = out.writeDoubleLE(retention.start, at + key.byteLength);
    at = out.writeDoubleLE(retention.dropped, at);
    at = out.writeUInt32LE(retention.trim?.segment ?? 0, at);
    at = out.writeDoubleLE(retention.trim?.seq ?? 0, at);
    at = out.writeUInt32LE(retention.trim?.bytes ?? 0, at);
    at = out.writeUInt32LE(consumers.length, at);
    for (const [name, consumer] of consumers) {
      at = out.writeUInt32LE(name.byteLength, at);
      out.set(name, at);
      at = out.writeDoubleLE(consumer.position, at + name.byteLength);
      at = out.writeUInt32LE(consumer.segment, at);
      at = out.writeDoubleLE(consumer.seq, at);
      at = out.writeUInt32LE(consumer.bytes, at);
    }
  }
  out.writeUInt32LE(crc32(out.subarray(0, at)), at);
  const aside = join(dir, `${CHECKPOINT_NAME}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  fs.writeFileSync(aside, out);
  fs.renameSync(aside, join(dir, CHECKPOINT_NAME));
  return out.byteLength;
}

/** The checkpoint's index and position, or undefined when there is none or it does not check out. */
export function readCheckpoint(dir: string): { index: LogIndex; position: number } | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(join(dir, CHECKPOINT_NAME));
  } catch {
    return undefined;
  }
  const version = bytes.byteLength < 28 ? 0 : bytes.readUInt32LE(4);
  if (bytes.byteLength < 28 || bytes.readUInt32LE(0) !== MAGIC || (version !== VERSION && version !== WITHOUT_SEALS && version !== WITHOUT_RETENTION)) return undefined;
  if (crc32(bytes.subarray(0, bytes.byteLength - 4)) !== bytes.readUInt32LE(bytes.byteLength - 4)) return undefined;
  try {
    return parseCheckpoint(bytes, version);
  } catch (error) {
    // A checkpoint whose checksum holds but whose counts run past its end was not written by log(): ignored, like a damaged one.
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function parseCheckpoint(bytes: Buffer, version: number): { index: LogIndex; position: number } {
  const index = new LogIndex();
  const position = readU64(bytes, 8);
  let at = 16;
  const segments = bytes.readUInt32LE(at);
  at += 4;
  for (let i = 0; i < segments; i++, at += 12) index.segmentEnds.set(bytes.readUInt32LE(at), readU64(bytes, at + 4));
  const sealed = bytes.readUInt32LE(at);
  at += 4;
  for (let i = 0; i < sealed; i++, at += 4) index.sealed.add(bytes.readUInt32LE(at));
  for (const map of [index.data, index.meta]) {
    const count = bytes.readUInt32LE(at);
    at += 4;
    for (let i = 0; i < count; i++) {
      const keyLength = bytes.readUInt32LE(at);
      const id = bytes.toString('utf8', at + 4, at + 4 + keyLength);
      at += 4 + keyLength;
      const numbers = bytes.readUInt32LE(at);
      at += 4;
      let extents: Extents;
      if (numbers === FIELDS) {
        // Most keys of a large store hold one value: a literal is made as an array of doubles at once,
        // where filling `new Array(5)` first makes an array of small integers and then converts it.
        extents = [bytes.readDoubleLE(at), bytes.readDoubleLE(at + 8), bytes.readDoubleLE(at + 16), bytes.readDoubleLE(at + 24), bytes.readDoubleLE(at + 32)];
        at += 40;
      } else {
        extents = new Array<number>(numbers);
        for (let n = 0; n < numbers; n++, at += 8) extents[n] = bytes.readDoubleLE(at);
      }
      map.set(id, extents);
      let valueBytes = 0;
      for (let n = 0; n < numbers; n += FIELDS) {
        valueBytes += extents[n + 2];
        index.live(extents[n], RECORD_HEADER + keyLength + extents[n + 2]);
      }
      if (map === index.data) {
        index.liveBytes += valueBytes;
        index.values += numbers / FIELDS;
        index.keyChars += id.length;
      }
    }
  }
  const seals = version === WITHOUT_SEALS ? 0 : bytes.readUInt32LE(at);
  at += 4;
  for (let i = 0; i < seals; i++) {
    const keyLength = bytes.readUInt32LE(at);
    const id = bytes.toString('utf8', at + 4, at + 4 + keyLength);
    at += 4 + keyLength;
    const seal = { length: bytes.readDoubleLE(at), segment: bytes.readUInt32LE(at + 8), seq: bytes.readDoubleLE(at + 12) };
    at += 20;
    index.seals.set(id, seal);
    index.live(seal.segment, RECORD_HEADER + keyLength);
  }
  const retained = version === VERSION ? bytes.readUInt32LE(at) : 0;
  at += 4;
  for (let i = 0; i < retained; i++) {
    const keyLength = bytes.readUInt32LE(at);
    const id = bytes.toString('utf8', at + 4, at + 4 + keyLength);
    at += 4 + keyLength;
    const retention: KeyRetention = { start: bytes.readDoubleLE(at), dropped: bytes.readDoubleLE(at + 8), consumers: new Map() };
    const trimSegment = bytes.readUInt32LE(at + 16);
    if (trimSegment !== 0) {
      retention.trim = { segment: trimSegment, seq: bytes.readDoubleLE(at + 20), bytes: bytes.readUInt32LE(at + 28) };
      index.live(trimSegment, retention.trim.bytes);
    }
    const consumers = bytes.readUInt32LE(at + 32);
    at += 36;
    for (let c = 0; c < consumers; c++) {
      const nameLength = bytes.readUInt32LE(at);
      const name = bytes.toString('utf8', at + 4, at + 4 + nameLength);
      at += 4 + nameLength;
      const consumer = { position: bytes.readDoubleLE(at), segment: bytes.readUInt32LE(at + 8), seq: bytes.readDoubleLE(at + 12), bytes: bytes.readUInt32LE(at + 20) };
      at += 24;
      retention.consumers.set(name, consumer);
      index.live(consumer.segment, consumer.bytes);
    }
    index.retention.set(id, retention);
  }
  return { index, position };
}
