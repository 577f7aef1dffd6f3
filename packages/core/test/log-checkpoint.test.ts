/**
 * log()'s index checkpoint as a file: what is written reads back as the same
 * index (keys of one value and of many, iset values, segment ends, sealed
 * segments, key seals, trims and consumer positions, a position past 2^32),
 * the counts rebuilt from it, files of the two earlier versions still read,
 * and a file that does not check out (short, another magic or version, a
 * changed byte) read as none.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '@laminate/core/testing';
import { CHECKPOINT_NAME, readCheckpoint, writeCheckpoint } from '../src/log/checkpoint.js';
import { type IndexedRecord, LogIndex } from '../src/log/log-index.js';
import { Kind, RECORD_HEADER, writeU64 } from '../src/log/record.js';

const tempDir = tempDirs('laminate-log-checkpoint-test-', afterAll);

function record(kind: Kind, id: string, valueOffset: number, valueLength: number, valueCrc = 0, more: Partial<IndexedRecord> = {}): IndexedRecord {
  return { kind, id, keyLength: Buffer.byteLength(id, 'utf8'), valueOffset, valueLength, valueCrc, stamp: 0, from: 0, ...more };
}

/** A u64 position, then (for a consumer) its name: the value of a TRIM or CONSUMER record. */
function positionValue(position: number, name = ''): Buffer {
  const out = Buffer.alloc(8 + Buffer.byteLength(name, 'utf8'));
  writeU64(out, 0, position);
  out.write(name, 8, 'utf8');
  return out;
}

/** An index with a bit of everything a checkpoint holds. */
function sample(): LogIndex {
  const index = new LogIndex();
  index.apply(record(Kind.VALUE, 'one', 40, 10, 0xdeadbeef), 1, 3);
  index.apply(record(Kind.VALUE, 'many', 60, 5, 1), 1, 4);
  index.apply(record(Kind.VALUE, 'many', 100, 7, 2), 2, 5);
  index.apply(record(Kind.VALUE, 'many', 2 ** 33, 2 ** 32 + 9, 3), 70_000, 6);
  index.apply(record(Kind.VALUE, 'ключ', 8, 0), 2, 7);
  index.apply(record(Kind.VALUE, '\0["a","b"]', 9, 1), 2, 8);
  index.apply(record(Kind.ISET, 'meta', 200, 12, 5), 2, 9);
  index.apply(record(Kind.SEAL, '', 0, 0), 1, 10);
  index.apply(record(Kind.KEY_SEAL, 'one', 0, 0), 2, 11);
  index.apply(record(Kind.KEY_SEAL_AT, 'ключ', 0, 0, 0, { stamp: 2 ** 35 }), 70_000, 12);
  // Trims 'many' past its first value (5 bytes) into its second; two consumers, one with a name past ASCII.
  index.apply(record(Kind.TRIM, 'many', 0, 8, 0, { stamp: 100, value: positionValue(7) }), 2, 13);
  index.apply(record(Kind.CONSUMER, 'many', 0, 8 + 6, 0, { value: positionValue(9, 'reader') }), 2, 14);
  index.apply(record(Kind.CONSUMER, 'many', 0, 8 + 5, 0, { value: positionValue(2 ** 40, 'lecté') }), 70_000, 15);
  index.apply(record(Kind.CONSUMER, 'solo', 0, 8 + 1, 0, { value: positionValue(3, 'c') }), 1, 16);
  index.committed(1, 1000);
  index.committed(2, 2 ** 34 + 1);
  index.committed(70_000, 2 ** 34);
  return index;
}

/** Everything a reader takes from the index, for comparing two. */
function contents(index: LogIndex) {
  return {
    data: [...index.data],
    meta: [...index.meta],
    segmentEnds: [...index.segmentEnds],
    sealed: [...index.sealed],
    seals: [...index.seals],
    retention: [...index.retention].map(([id, r]) => [id, { ...r, consumers: [...r.consumers] }]),
    liveBytes: index.liveBytes,
    liveRecordBytes: index.liveRecordBytes,
    segmentLive: [...index.segmentLive].sort((a, b) => a[0] - b[0]),
    values: index.values,
    keyChars: index.keyChars,
  };
}

describe('log() checkpoint: written and read back', () => {
  it('reads back the same index and position, and rebuilds the counts from it', () => {
    const dir = tempDir();
    const index = sample();
    const position = 2 ** 40 + 17;
    const written = writeCheckpoint(dir, index, position);
    expect(fs.statSync(join(dir, CHECKPOINT_NAME)).size).toBe(written);
    // Written aside and renamed: nothing else is left in the directory.
    expect(fs.readdirSync(dir)).toEqual([CHECKPOINT_NAME]);
    const read = readCheckpoint(dir)!;
    expect(read.position).toBe(position);
    // The sample holds every section: seals, a trim, consumers.
    expect(index.seals.size).toBe(2);
    expect(index.retention.get('many')?.trim).toBeDefined();
    expect(index.retention.get('many')?.consumers.size).toBe(2);
    expect(index.retention.get('solo')?.trim).toBeUndefined();
    expect(contents(read.index)).toEqual(contents(index));
    expect(read.index.memoryBytes()).toBe(index.memoryBytes());
    expect(read.index.garbageBytes()).toBe(index.garbageBytes());
  });

  it('holds the layout the format describes, ending in a CRC-32 of what comes before', () => {
    const dir = tempDir();
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'k', 1, 2, 3), 4, 5);
    index.committed(4, 100);
    writeCheckpoint(dir, index, 6);
    const bytes = fs.readFileSync(join(dir, CHECKPOINT_NAME));
    const expected = Buffer.alloc(16 + 4 + 12 + 4 + 4 + (4 + 1 + 4 + 40) + 4 + 4 + 4 + 4);
    let at = expected.writeUInt32LE(0x4b434d4c, 0);
    at = expected.writeUInt32LE(3, at);
    at = expected.writeUInt32LE(6, at) + 4;
    at = expected.writeUInt32LE(1, at);
    at = expected.writeUInt32LE(4, at);
    at = expected.writeUInt32LE(100, at) + 4;
    at = expected.writeUInt32LE(0, at);
    at = expected.writeUInt32LE(1, at);
    at = expected.writeUInt32LE(1, at);
    at += expected.write('k', at);
    at = expected.writeUInt32LE(5, at);
    for (const n of [4, 1, 2, 3, 5]) at = expected.writeDoubleLE(n, at);
    // No iset values, no seals, no retained keys.
    at = expected.writeUInt32LE(0, at);
    at = expected.writeUInt32LE(0, at);
    at = expected.writeUInt32LE(0, at);
    expected.writeUInt32LE(crc32(expected.subarray(0, at)), at);
    expect(bytes).toEqual(expected);
  });

  it('reads back an empty index', () => {
    const dir = tempDir();
    writeCheckpoint(dir, new LogIndex(), 0);
    const read = readCheckpoint(dir)!;
    expect(read.position).toBe(0);
    expect(contents(read.index)).toEqual(contents(new LogIndex()));
  });

  it('replaces the checkpoint before it', () => {
    const dir = tempDir();
    writeCheckpoint(dir, sample(), 5);
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'only', 0, 1), 3, 1);
    writeCheckpoint(dir, index, 9);
    const read = readCheckpoint(dir)!;
    expect(read.position).toBe(9);
    expect([...read.index.data.keys()]).toEqual(['only']);
    expect(fs.readdirSync(dir)).toEqual([CHECKPOINT_NAME]);
  });
});

describe('log() checkpoint: files of earlier versions', () => {
  /** The version-3 file of `index` cut down to an earlier version: without retention (2), and without seals too (1). */
  function older(version: 1 | 2, index: LogIndex, position: number): Buffer {
    const dir = tempDir();
    const withoutSeals = new LogIndex();
    for (const map of ['data', 'meta'] as const) for (const [id, extents] of index[map]) withoutSeals[map].set(id, extents);
    for (const [segment, end] of index.segmentEnds) withoutSeals.segmentEnds.set(segment, end);
    for (const segment of index.sealed) withoutSeals.sealed.add(segment);
    if (version === 2) for (const [id, seal] of index.seals) withoutSeals.seals.set(id, seal);
    writeCheckpoint(dir, withoutSeals, position);
    const bytes = fs.readFileSync(join(dir, CHECKPOINT_NAME));
    // Drop the sections the version did not have (each an empty count of 4 bytes before the CRC), and re-sign.
    const cut = version === 2 ? 4 : 8;
    const body = Buffer.from(bytes.subarray(0, bytes.byteLength - 4 - cut));
    body.writeUInt32LE(version, 4);
    const out = Buffer.alloc(body.byteLength + 4);
    body.copy(out);
    out.writeUInt32LE(crc32(body), body.byteLength);
    return out;
  }

  it('reads a version 2 file (seals, no retention) and a version 1 file (neither)', () => {
    const index = sample();
    for (const version of [1, 2] as const) {
      const dir = tempDir();
      fs.writeFileSync(join(dir, CHECKPOINT_NAME), older(version, index, 5));
      const read = readCheckpoint(dir)!;
      expect(read.position, `version ${version}`).toBe(5);
      expect([...read.index.data]).toEqual([...index.data]);
      expect([...read.index.meta]).toEqual([...index.meta]);
      expect([...read.index.sealed]).toEqual([...index.sealed]);
      expect([...read.index.seals]).toEqual(version === 2 ? [...index.seals] : []);
      expect(read.index.retention.size).toBe(0);
    }
  });
});

describe('log() checkpoint: one that does not check out is none', () => {
  it('is none when the file is missing', () => {
    expect(readCheckpoint(tempDir())).toBeUndefined();
  });

  it('is none when any byte is changed, or the file is cut short', () => {
    const dir = tempDir();
    writeCheckpoint(dir, sample(), 77);
    const path = join(dir, CHECKPOINT_NAME);
    const good = fs.readFileSync(path);
    for (const at of [0, 4, 8, 16, 40, good.byteLength - 5, good.byteLength - 1]) {
      const damaged = Buffer.from(good);
      damaged[at] ^= 0x10;
      fs.writeFileSync(path, damaged);
      expect(readCheckpoint(dir), `byte ${at}`).toBeUndefined();
    }
    for (const length of [0, 27, good.byteLength - 1]) {
      fs.writeFileSync(path, good.subarray(0, length));
      expect(readCheckpoint(dir), `${length} bytes`).toBeUndefined();
    }
    fs.writeFileSync(path, good);
    expect(readCheckpoint(dir)?.position).toBe(77);
  });

  it('is none when the magic or the version differs, even with a matching checksum', () => {
    const dir = tempDir();
    writeCheckpoint(dir, new LogIndex(), 1);
    const path = join(dir, CHECKPOINT_NAME);
    const good = fs.readFileSync(path);
    expect(good.byteLength).toBe(44);
    for (const [at, value] of [[0, 0x4b434d4d], [4, 4], [4, 0]]) {
      const other = Buffer.from(good);
      other.writeUInt32LE(value, at);
      other.writeUInt32LE(crc32(other.subarray(0, other.byteLength - 4)), other.byteLength - 4);
      fs.writeFileSync(path, other);
      expect(readCheckpoint(dir), `${value} at ${at}`).toBeUndefined();
    }
  });

  it('is none when it is cut short and its checksum made to match, so its counts run past its end', () => {
    const dir = tempDir();
    writeCheckpoint(dir, sample(), 77);
    const path = join(dir, CHECKPOINT_NAME);
    const good = fs.readFileSync(path);
    for (const length of [32, 40, 48, good.byteLength - 8]) {
      const cut = Buffer.alloc(length);
      good.copy(cut, 0, 0, length - 4);
      cut.writeUInt32LE(crc32(cut.subarray(0, length - 4)), length - 4);
      fs.writeFileSync(path, cut);
      expect(readCheckpoint(dir), `${length} bytes`).toBeUndefined();
    }
  });
});

describe('log() checkpoint: value bytes of a key read from it', () => {
  it('counts each value\'s record bytes in its own segment, and iset values as records but not data', () => {
    const dir = tempDir();
    const written = new LogIndex();
    written.apply(record(Kind.VALUE, 'one', 40, 10), 1, 3);
    written.apply(record(Kind.VALUE, 'many', 60, 5), 1, 4);
    written.apply(record(Kind.VALUE, 'many', 100, 7), 2, 5);
    written.apply(record(Kind.VALUE, 'many', 2 ** 33, 2 ** 32 + 9), 70_000, 6);
    written.apply(record(Kind.VALUE, 'ключ', 8, 0), 2, 7);
    written.apply(record(Kind.VALUE, '\0["a","b"]', 9, 1), 2, 8);
    written.apply(record(Kind.ISET, 'meta', 200, 12), 2, 9);
    written.apply(record(Kind.SEAL, '', 0, 0), 1, 10);
    writeCheckpoint(dir, written, 1);
    const { index } = readCheckpoint(dir)!;
    const header = (id: string) => RECORD_HEADER + Buffer.byteLength(id, 'utf8');
    expect(index.segmentLive.get(70_000)).toBe(header('many') + 2 ** 32 + 9);
    expect(index.segmentLive.get(1)).toBe(header('one') + 10 + header('many') + 5);
    expect(index.segmentLive.get(2)).toBe(header('many') + 7 + header('ключ') + header('\0["a","b"]') + 1 + header('meta') + 12);
    expect(index.liveBytes).toBe(10 + 5 + 7 + 2 ** 32 + 9 + 0 + 1);
    expect(index.values).toBe(6);
    expect(index.keyChars).toBe('one'.length + 'many'.length + 'ключ'.length + '\0["a","b"]'.length);
    expect([...index.sealed]).toEqual([1]);
  });
});
