/**
 * log()'s index, record by record: key → extents (segment, offset, length,
 * CRC-32, seq per value), tombstones that spare what was committed at or
 * after their stamp, the first iset winning, compact()'s moves, and the byte
 * counts that stats(), maxIndexBytes and the compaction policy read.
 */
import { describe, expect, it } from 'vitest';
import { type IndexedRecord, FIELDS, LogIndex } from '../src/log/log-index.js';
import { Kind, RECORD_HEADER } from '../src/log/record.js';

/** A record as log() hands it to the index; keyLength is the key's UTF-8 size. */
function record(kind: Kind, id: string, fields: Partial<Omit<IndexedRecord, 'kind' | 'id' | 'keyLength'>> = {}): IndexedRecord {
  return { kind, id, keyLength: Buffer.byteLength(id, 'utf8'), valueOffset: 0, valueLength: 0, valueCrc: 0, stamp: 0, from: 0, ...fields };
}

/** What a record of `id` with a value of `length` bytes takes in its segment. */
const size = (id: string, length: number) => RECORD_HEADER + Buffer.byteLength(id, 'utf8') + length;

/** The counts an index keeps, in one object to compare. */
function counts(index: LogIndex) {
  return {
    liveBytes: index.liveBytes,
    liveRecordBytes: index.liveRecordBytes,
    segmentLive: Object.fromEntries(index.segmentLive),
    values: index.values,
    keyChars: index.keyChars,
  };
}

describe('log() index: values', () => {
  it('keeps a new key\'s value as five numbers and appends each later value, counting its bytes', () => {
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'é', { valueOffset: 40, valueLength: 10, valueCrc: 111 }), 1, 0);
    expect(index.data.get('é')).toEqual([1, 40, 10, 111, 0]);
    expect(counts(index)).toEqual({ liveBytes: 10, liveRecordBytes: size('é', 10), segmentLive: { 1: size('é', 10) }, values: 1, keyChars: 1 });

    index.apply(record(Kind.VALUE, 'é', { valueOffset: 90, valueLength: 3, valueCrc: 222 }), 2, 1);
    expect(index.data.get('é')).toEqual([1, 40, 10, 111, 0, 2, 90, 3, 222, 1]);
    expect(counts(index)).toEqual({ liveBytes: 13, liveRecordBytes: size('é', 10) + size('é', 3), segmentLive: { 1: size('é', 10), 2: size('é', 3) }, values: 2, keyChars: 1 });
    expect(index.sizeOf('é')).toBe(13);
    expect(index.sizeOf('absent')).toBe(0);
    expect(index.applied).toBe(2);
  });

  it('counts records it does not index (a segment\'s first record) as applied and changes nothing else', () => {
    const index = new LogIndex();
    index.apply(record(Kind.SEGMENT, '', { valueLength: 20 }), 1, 0);
    expect(index.applied).toBe(1);
    expect(index.data.size + index.meta.size + index.sealed.size).toBe(0);
    expect(counts(index)).toEqual({ liveBytes: 0, liveRecordBytes: 0, segmentLive: {}, values: 0, keyChars: 0 });
  });

  it('notes a sealed segment', () => {
    const index = new LogIndex();
    index.apply(record(Kind.SEAL, ''), 4, 0);
    expect([...index.sealed]).toEqual([4]);
  });
});

describe('log() index: tombstones', () => {
  it('a delete removes the values committed before its stamp and spares those at or after it, in order', () => {
    const index = new LogIndex();
    const id = 'ключ';
    for (let seq = 1; seq <= 4; seq++) index.apply(record(Kind.VALUE, id, { valueOffset: seq * 100, valueLength: seq, valueCrc: seq * 11 }), seq % 2, seq);
    index.apply(record(Kind.DELETE, id, { stamp: 3 }), 0, 5);
    expect(index.data.get(id)).toEqual([1, 300, 3, 33, 3, 0, 400, 4, 44, 4]);
    expect(counts(index)).toEqual({ liveBytes: 7, liveRecordBytes: size(id, 3) + size(id, 4), segmentLive: { 0: size(id, 4), 1: size(id, 3) }, values: 2, keyChars: id.length });
    expect(index.sizeOf(id)).toBe(7);
  });

  it('a delete past every value forgets the key; one of a key it does not hold changes nothing', () => {
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'gone', { valueLength: 5 }), 1, 1);
    index.apply(record(Kind.VALUE, 'kept', { valueLength: 6 }), 1, 2);
    index.apply(record(Kind.DELETE, 'gone', { stamp: 2 }), 1, 3);
    expect([...index.data.keys()]).toEqual(['kept']);
    expect(counts(index)).toEqual({ liveBytes: 6, liveRecordBytes: size('kept', 6), segmentLive: { 1: size('kept', 6) }, values: 1, keyChars: 4 });
    const before = counts(index);
    index.apply(record(Kind.DELETE, 'never', { stamp: 10 }), 1, 4);
    expect(counts(index)).toEqual(before);
    expect([...index.data.keys()]).toEqual(['kept']);
  });

  it('a drop removes data and iset values committed before its stamp, sparing later ones; isets do not count as data', () => {
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'a', { valueLength: 2 }), 1, 1);
    index.apply(record(Kind.ISET, 'm', { valueLength: 3 }), 1, 2);
    index.apply(record(Kind.VALUE, 'b', { valueLength: 4 }), 1, 3);
    index.apply(record(Kind.ISET, 'n', { valueLength: 5 }), 1, 4);
    index.apply(record(Kind.DROP, '', { stamp: 3 }), 1, 5);
    expect([...index.data.keys()]).toEqual(['b']);
    expect([...index.meta.keys()]).toEqual(['n']);
    expect(counts(index)).toEqual({ liveBytes: 4, liveRecordBytes: size('b', 4) + size('n', 5), segmentLive: { 1: size('b', 4) + size('n', 5) }, values: 1, keyChars: 1 });
    // A drop past everything empties both maps.
    index.apply(record(Kind.DROP, '', { stamp: 6 }), 1, 6);
    expect(index.data.size + index.meta.size).toBe(0);
    expect(counts(index)).toEqual({ liveBytes: 0, liveRecordBytes: 0, segmentLive: { 1: 0 }, values: 0, keyChars: 0 });
  });

  it('the first iset committed wins; a later one is neither kept nor counted', () => {
    const index = new LogIndex();
    index.apply(record(Kind.ISET, 'meta', { valueOffset: 8, valueLength: 3, valueCrc: 9 }), 2, 1);
    index.apply(record(Kind.ISET, 'meta', { valueOffset: 80, valueLength: 30, valueCrc: 90 }), 3, 2);
    expect(index.meta.get('meta')).toEqual([2, 8, 3, 9, 1]);
    expect(counts(index)).toEqual({ liveBytes: 0, liveRecordBytes: size('meta', 3), segmentLive: { 2: size('meta', 3) }, values: 0, keyChars: 0 });
    expect(index.memoryBytes()).toBe(96 + FIELDS * 8);
  });
});

describe('log() index: compact()\'s moves', () => {
  it('points the extent at its old place to the copy and moves its bytes to the new segment', () => {
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'k', { valueOffset: 100, valueLength: 10, valueCrc: 7 }), 1, 1);
    index.apply(record(Kind.VALUE, 'k', { valueOffset: 200, valueLength: 20, valueCrc: 8 }), 1, 2);
    // Moves the second value only: same segment, other offset.
    index.apply(record(Kind.MOVE, 'k', { from: 1, stamp: 200, valueOffset: 16 }), 5, 3);
    expect(index.data.get('k')).toEqual([1, 100, 10, 7, 1, 5, 16, 20, 8, 2]);
    expect(counts(index)).toEqual({ liveBytes: 30, liveRecordBytes: size('k', 10) + size('k', 20), segmentLive: { 1: size('k', 10), 5: size('k', 20) }, values: 2, keyChars: 1 });
  });

  it('moves nothing when no extent is at the old place, or the key is gone: a move never brings a value back', () => {
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'k', { valueOffset: 100, valueLength: 10 }), 1, 1);
    const before = counts(index);
    index.apply(record(Kind.MOVE, 'k', { from: 2, stamp: 100, valueOffset: 0 }), 5, 2);
    index.apply(record(Kind.MOVE, 'k', { from: 1, stamp: 101, valueOffset: 0 }), 5, 3);
    expect(index.data.get('k')).toEqual([1, 100, 10, 0, 1]);
    expect(counts(index)).toEqual(before);
    index.apply(record(Kind.DELETE, 'k', { stamp: 4 }), 1, 4);
    index.apply(record(Kind.MOVE, 'k', { from: 1, stamp: 100, valueOffset: 0 }), 5, 5);
    expect(index.data.has('k')).toBe(false);
    expect(index.segmentLive.get(5)).toBeUndefined();
  });

  it('moves an iset value in the iset map only', () => {
    const index = new LogIndex();
    index.apply(record(Kind.ISET, 'm', { valueOffset: 50, valueLength: 4 }), 1, 1);
    index.apply(record(Kind.VALUE, 'm', { valueOffset: 50, valueLength: 4 }), 2, 2);
    index.apply(record(Kind.MOVE_ISET, 'm', { from: 1, stamp: 50, valueOffset: 9 }), 3, 3);
    expect(index.meta.get('m')).toEqual([3, 9, 4, 0, 1]);
    expect(index.data.get('m')).toEqual([2, 50, 4, 0, 2]);
    expect(Object.fromEntries(index.segmentLive)).toEqual({ 1: 0, 2: size('m', 4), 3: size('m', 4) });
    expect([...index.referenced()].sort()).toEqual([2, 3]);
  });
});

describe('log() index: what stats() and the policies read', () => {
  it('keeps the furthest committed end of each segment, and counts garbage as what the live records do not use', () => {
    const index = new LogIndex();
    index.committed(1, 500);
    index.committed(1, 300);
    index.committed(2, 50);
    expect(Object.fromEntries(index.segmentEnds)).toEqual({ 1: 500, 2: 50 });
    expect(index.segmentBytes()).toBe(550);
    index.apply(record(Kind.VALUE, 'k', { valueLength: 100 }), 1, 1);
    expect(index.segmentGarbage(1)).toBe(500 - size('k', 100));
    expect(index.garbageBytes()).toBe(550 - size('k', 100));
    // More live than committed (a segment the index has not seen the end of) is no garbage, never negative.
    index.apply(record(Kind.VALUE, 'big', { valueLength: 1000 }), 2, 2);
    expect(index.segmentGarbage(2)).toBe(0);
    expect(index.segmentGarbage(9)).toBe(0);
    expect(index.garbageBytes()).toBe(0);
  });

  it('lists every segment a data or iset value is in', () => {
    const index = new LogIndex();
    expect(index.referenced().size).toBe(0);
    index.apply(record(Kind.VALUE, 'a'), 1, 1);
    index.apply(record(Kind.VALUE, 'a'), 3, 2);
    index.apply(record(Kind.VALUE, 'b'), 3, 3);
    index.apply(record(Kind.ISET, 'm'), 7, 4);
    expect([...index.referenced()].sort()).toEqual([1, 3, 7]);
  });

  it('estimates its memory per key and per value, and what appending to some keys would add', () => {
    const index = new LogIndex();
    expect(index.memoryBytes()).toBe(0);
    index.apply(record(Kind.VALUE, 'abc', { valueLength: 1 }), 1, 1);
    index.apply(record(Kind.VALUE, 'abc', { valueLength: 1 }), 1, 2);
    index.apply(record(Kind.ISET, 'm', { valueLength: 1 }), 1, 3);
    // Two keys of 96 bytes each, 3 characters, three values of five 8-byte numbers.
    expect(index.memoryBytes()).toBe(2 * 96 + 3 + 3 * FIELDS * 8);
    // One value each; a key new to the data map adds its overhead once, however often it is named.
    expect(index.memoryAdded([])).toBe(0);
    expect(index.memoryAdded(['abc'])).toBe(FIELDS * 8);
    expect(index.memoryAdded(['new', 'new', 'abc'])).toBe(3 * FIELDS * 8 + 96 + 3);
    expect(index.memoryAdded(['m'])).toBe(FIELDS * 8 + 96 + 1);
    index.apply(record(Kind.VALUE, 'new', { valueLength: 1 }), 1, 4);
    expect(index.memoryBytes()).toBe(3 * 96 + 6 + 4 * FIELDS * 8);
  });

  it('clear() forgets keys, isets, segments, seals and every count', () => {
    const index = new LogIndex();
    index.apply(record(Kind.VALUE, 'a', { valueLength: 3 }), 1, 1);
    index.apply(record(Kind.ISET, 'm', { valueLength: 3 }), 1, 2);
    index.apply(record(Kind.SEAL, ''), 1, 3);
    index.committed(1, 1000);
    index.clear();
    expect(index.data.size + index.meta.size + index.segmentEnds.size + index.sealed.size + index.segmentLive.size).toBe(0);
    expect(counts(index)).toEqual({ liveBytes: 0, liveRecordBytes: 0, segmentLive: {}, values: 0, keyChars: 0 });
    expect(index.memoryBytes()).toBe(0);
    expect(index.segmentBytes()).toBe(0);
  });
});
