/**
 * log()'s index, record by record: key → extents (segment, offset, length,
 * CRC-32, seq per value), tombstones that spare what was committed at or
 * after their stamp, the first iset winning, compact()'s moves, and the byte
 * counts that stats(), maxIndexBytes and the compaction policy read.
 */
import { describe, expect, it } from 'vitest';
import { type IndexedRecord, FIELDS, LogIndex } from '../src/log/log-index.js';
import { Kind, RECORD_HEADER, writeU64 } from '../src/log/record.js';

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

/** A u64 position, then (for a consumer) its name: the value of a TRIM or CONSUMER record. */
function positionValue(position: number, name = ''): Buffer {
  const out = Buffer.alloc(8 + Buffer.byteLength(name, 'utf8'));
  writeU64(out, 0, position);
  out.write(name, 8, 'utf8');
  return out;
}
const trimRecord = (id: string, position: number, stamp: number, from = 0) => record(Kind.TRIM, id, { valueLength: 8, stamp, from, value: positionValue(position) });
const consumerRecord = (id: string, name: string, position: number, from = 0) =>
  record(Kind.CONSUMER, id, { valueLength: 8 + Buffer.byteLength(name, 'utf8'), from, value: positionValue(position, name) });
const forgetRecord = (id: string, name: string) => record(Kind.FORGET, id, { valueLength: Buffer.byteLength(name, 'utf8'), value: Buffer.from(name, 'utf8') });

/** A key 'k' holding values of 3, 4 and 5 bytes, committed at seqs 1, 2 and 3 in segment 1. */
function threeValues(): LogIndex {
  const index = new LogIndex();
  for (const [seq, length] of [[1, 3], [2, 4], [3, 5]]) index.apply(record(Kind.VALUE, 'k', { valueOffset: seq * 100, valueLength: length }), 1, seq);
  return index;
}

describe('log() index: key seals', () => {
  it('seals a key at its length when the seal is applied; the first seal stays', () => {
    const index = threeValues();
    const before = index.liveRecordBytes;
    index.apply(record(Kind.KEY_SEAL, 'k'), 2, 4);
    expect(index.seals.get('k')).toEqual({ length: 12, segment: 2, seq: 4 });
    expect(index.segmentLive.get(2)).toBe(size('k', 0));
    expect(index.liveRecordBytes).toBe(before + size('k', 0));
    index.apply(record(Kind.VALUE, 'k', { valueLength: 9 }), 1, 5);
    index.apply(record(Kind.KEY_SEAL, 'k'), 2, 6);
    index.apply(record(Kind.KEY_SEAL_AT, 'k', { stamp: 99 }), 2, 7);
    expect(index.seals.get('k')).toEqual({ length: 12, segment: 2, seq: 4 });
    expect(index.segmentLive.get(2)).toBe(size('k', 0));
    // A seal at a length named in the record; a key with no values seals at 0.
    index.apply(record(Kind.KEY_SEAL_AT, 'other', { stamp: 2 ** 40 }), 3, 8);
    index.apply(record(Kind.KEY_SEAL, 'empty'), 3, 9);
    expect(index.seals.get('other')).toEqual({ length: 2 ** 40, segment: 3, seq: 8 });
    expect(index.seals.get('empty')?.length).toBe(0);
    expect([...index.referenced()].sort()).toEqual([1, 2, 3]);
    expect(index.memoryBytes()).toBe(4 * 96 + 1 + 4 * FIELDS * 8);
  });

  it('a seal of a trimmed key counts from the key\'s start', () => {
    const index = threeValues();
    index.apply(trimRecord('k', 5, 10), 1, 4);
    index.apply(record(Kind.KEY_SEAL, 'k'), 1, 5);
    expect(index.seals.get('k')?.length).toBe(12);
    expect(index.sizeOf('k')).toBe(7);
  });

  it('compact()\'s copy of a seal moves it only while the key\'s seal is the one in the copied segment', () => {
    const index = new LogIndex();
    index.apply(record(Kind.KEY_SEAL_AT, 'k', { stamp: 5 }), 1, 1);
    index.apply(record(Kind.KEY_SEAL_AT, 'k', { stamp: 5, from: 2 }), 3, 2);
    expect(index.seals.get('k')).toEqual({ length: 5, segment: 1, seq: 1 });
    expect(index.segmentLive.get(3)).toBeUndefined();
    index.apply(record(Kind.KEY_SEAL_AT, 'k', { stamp: 5, from: 1 }), 3, 3);
    expect(index.seals.get('k')).toEqual({ length: 5, segment: 3, seq: 1 });
    expect(Object.fromEntries(index.segmentLive)).toEqual({ 1: 0, 3: size('k', 0) });
    // No seal (deleted meanwhile): the copy is garbage.
    index.apply(record(Kind.KEY_SEAL_AT, 'gone', { stamp: 5, from: 1 }), 4, 4);
    expect(index.seals.has('gone')).toBe(false);
    expect(index.segmentLive.get(4)).toBeUndefined();
  });

  it('a delete or a drop takes back a seal committed before it, and spares one committed at or after its stamp', () => {
    const index = new LogIndex();
    index.apply(record(Kind.KEY_SEAL_AT, 'ключ', { stamp: 1 }), 1, 5);
    index.apply(record(Kind.DELETE, 'ключ', { stamp: 5 }), 1, 6);
    expect(index.seals.has('ключ')).toBe(true);
    index.apply(record(Kind.DELETE, 'ключ', { stamp: 6 }), 1, 7);
    expect(index.seals.has('ключ')).toBe(false);
    expect(index.segmentLive.get(1)).toBe(0);
    index.apply(record(Kind.KEY_SEAL_AT, 'a', { stamp: 1 }), 1, 8);
    index.apply(record(Kind.KEY_SEAL_AT, 'b', { stamp: 1 }), 1, 9);
    index.apply(record(Kind.DROP, '', { stamp: 9 }), 1, 10);
    expect([...index.seals.keys()]).toEqual(['b']);
    expect(index.segmentLive.get(1)).toBe(size('b', 0));
  });
});

describe('log() index: trims', () => {
  it('moves the start forward and drops the values wholly before it; a value the start cuts stays whole', () => {
    const index = threeValues();
    index.apply(trimRecord('k', 5, 10), 2, 4);
    expect(index.data.get('k')).toEqual([1, 200, 4, 0, 2, 1, 300, 5, 0, 3]);
    const retention = index.retention.get('k')!;
    expect({ start: retention.start, dropped: retention.dropped, trim: retention.trim }).toEqual({ start: 5, dropped: 3, trim: { segment: 2, seq: 4, bytes: size('k', 8) } });
    expect(index.startOf('k')).toBe(5);
    expect(index.cutOf('k')).toBe(2);
    expect(index.sizeOf('k')).toBe(7);
    expect(counts(index)).toEqual({ liveBytes: 9, liveRecordBytes: size('k', 4) + size('k', 5) + size('k', 8), segmentLive: { 1: size('k', 4) + size('k', 5), 2: size('k', 8) }, values: 2, keyChars: 1 });
    expect(index.startOf('never')).toBe(0);
    expect(index.cutOf('never')).toBe(0);
  });

  it('drops a value that ends exactly at the start', () => {
    const index = threeValues();
    index.apply(trimRecord('k', 7, 10), 1, 4);
    expect(index.data.get('k')).toEqual([1, 300, 5, 0, 3]);
    expect(index.cutOf('k')).toBe(0);
    expect(index.sizeOf('k')).toBe(5);
  });

  it('never moves the start past the values committed before the trimmer\'s stamp, nor back', () => {
    const index = threeValues();
    // The trimmer had read only the first value: the start stops at 3.
    index.apply(trimRecord('k', 100, 2), 1, 4);
    expect(index.startOf('k')).toBe(3);
    expect(index.data.get('k')).toEqual([1, 200, 4, 0, 2, 1, 300, 5, 0, 3]);
    const live = index.liveRecordBytes;
    // Back, or to where it is: nothing changes, and the record is garbage.
    index.apply(trimRecord('k', 2, 10), 1, 5);
    index.apply(trimRecord('k', 3, 10), 1, 6);
    expect(index.startOf('k')).toBe(3);
    expect(index.liveRecordBytes).toBe(live);
    // Forward again: the earlier trim record is garbage now, the new one live.
    index.apply(trimRecord('k', 12, 10), 3, 7);
    expect(index.startOf('k')).toBe(12);
    expect(index.retention.get('k')?.trim).toEqual({ segment: 3, seq: 7, bytes: size('k', 8) });
    expect(Object.fromEntries(index.segmentLive)).toEqual({ 1: 0, 3: size('k', 8) });
    // Every value went: the key stays, holding nothing, still listed.
    expect(index.data.get('k')).toEqual([]);
    expect(index.sizeOf('k')).toBe(0);
    expect(counts(index)).toMatchObject({ liveBytes: 0, values: 0, keyChars: 1 });
  });

  it('a trim of a key holding nothing changes nothing', () => {
    const index = new LogIndex();
    index.apply(trimRecord('none', 10, 10), 1, 1);
    expect(index.retention.size).toBe(0);
    expect(index.liveRecordBytes).toBe(0);
  });

  it('compact()\'s copy of a trim record moves it only while it is the key\'s trim', () => {
    const index = threeValues();
    index.apply(trimRecord('k', 5, 10), 2, 4);
    index.apply(trimRecord('k', 9, 10, 7), 3, 5);
    expect(index.retention.get('k')?.trim?.segment).toBe(2);
    expect(index.startOf('k')).toBe(5);
    index.apply(trimRecord('k', 9, 10, 2), 3, 6);
    expect(index.retention.get('k')?.trim).toEqual({ segment: 3, seq: 4, bytes: size('k', 8) });
    expect(index.startOf('k')).toBe(5);
    expect(index.segmentLive.get(2)).toBe(0);
    expect(index.segmentLive.get(3)).toBe(size('k', 8));
    index.apply(trimRecord('other', 9, 10, 2), 3, 7);
    expect(index.retention.has('other')).toBe(false);
    // A key with consumers but no trim: a copied trim record is garbage.
    index.apply(consumerRecord('c', 'reader', 1), 4, 8);
    index.apply(trimRecord('c', 1, 10, 4), 5, 9);
    expect(index.retention.get('c')?.trim).toBeUndefined();
    expect(index.segmentLive.get(5)).toBeUndefined();
  });

  it('lists the segment of a trim record among those the index uses', () => {
    const index = threeValues();
    index.apply(trimRecord('k', 3, 10), 9, 4);
    expect([...index.referenced()].sort()).toEqual([1, 9]);
  });
});

describe('log() index: consumers', () => {
  it('keeps each consumer\'s position, moving only forward, and counts only its latest record as live', () => {
    const index = new LogIndex();
    index.apply(consumerRecord('k', 'reader', 10), 1, 1);
    index.apply(consumerRecord('k', 'lecté', 2 ** 40), 2, 2);
    const consumers = index.retention.get('k')!.consumers;
    expect(consumers.get('reader')).toEqual({ position: 10, segment: 1, seq: 1, bytes: size('k', 8 + 6) });
    expect(consumers.get('lecté')?.position).toBe(2 ** 40);
    index.apply(consumerRecord('k', 'reader', 10), 2, 3);
    index.apply(consumerRecord('k', 'reader', 4), 2, 4);
    expect(consumers.get('reader')).toEqual({ position: 10, segment: 1, seq: 1, bytes: size('k', 8 + 6) });
    index.apply(consumerRecord('k', 'reader', 11), 3, 5);
    expect(consumers.get('reader')).toEqual({ position: 11, segment: 3, seq: 5, bytes: size('k', 8 + 6) });
    expect(Object.fromEntries(index.segmentLive)).toEqual({ 1: 0, 2: size('k', 8 + 6), 3: size('k', 8 + 6) });
    expect(index.startOf('k')).toBe(0);
    expect([...index.referenced()].sort()).toEqual([2, 3]);
    expect(index.memoryBytes()).toBe(96);
  });

  it('compact()\'s copy of a consumer record moves it only while it is the consumer\'s latest', () => {
    const index = new LogIndex();
    index.apply(consumerRecord('k', 'c', 10), 1, 1);
    index.apply(consumerRecord('k', 'c', 99, 5), 2, 2);
    index.apply(consumerRecord('k', 'nobody', 99, 1), 2, 3);
    expect(index.retention.get('k')?.consumers.get('c')).toEqual({ position: 10, segment: 1, seq: 1, bytes: size('k', 9) });
    expect(index.retention.get('k')?.consumers.has('nobody')).toBe(false);
    expect(index.segmentLive.get(2)).toBeUndefined();
    index.apply(consumerRecord('k', 'c', 99, 1), 2, 4);
    expect(index.retention.get('k')?.consumers.get('c')).toEqual({ position: 10, segment: 2, seq: 1, bytes: size('k', 9) });
    expect(Object.fromEntries(index.segmentLive)).toEqual({ 1: 0, 2: size('k', 9) });
  });

  it('forgets a consumer, and the key\'s retention once it is neither trimmed nor consumed', () => {
    const index = threeValues();
    index.apply(consumerRecord('k', 'a', 1), 2, 4);
    index.apply(consumerRecord('k', 'b', 2), 2, 5);
    index.apply(forgetRecord('k', 'nobody'), 2, 6);
    index.apply(forgetRecord('x', 'a'), 2, 7);
    expect(index.retention.get('k')?.consumers.size).toBe(2);
    index.apply(forgetRecord('k', 'a'), 2, 8);
    expect([...index.retention.get('k')!.consumers.keys()]).toEqual(['b']);
    expect(index.segmentLive.get(2)).toBe(size('k', 9));
    index.apply(forgetRecord('k', 'b'), 2, 9);
    expect(index.retention.has('k')).toBe(false);
    expect(index.segmentLive.get(2)).toBe(0);
    // A trimmed key keeps its retention when its last consumer goes.
    index.apply(consumerRecord('k', 'a', 1), 2, 10);
    index.apply(trimRecord('k', 3, 10), 2, 11);
    index.apply(forgetRecord('k', 'a'), 2, 12);
    expect(index.startOf('k')).toBe(3);
  });
});

describe('log() index: a delete or drop takes back retention', () => {
  it('restarts the key at 0, forgets its trim and the consumers committed before the stamp', () => {
    const index = threeValues();
    index.apply(consumerRecord('k', 'early', 1), 2, 4);
    index.apply(trimRecord('k', 5, 10), 2, 5);
    index.apply(consumerRecord('k', 'late', 2), 2, 6);
    index.apply(record(Kind.DELETE, 'k', { stamp: 6 }), 2, 7);
    const retention = index.retention.get('k')!;
    expect({ start: retention.start, dropped: retention.dropped, trim: retention.trim }).toEqual({ start: 0, dropped: 0, trim: undefined });
    expect([...retention.consumers.keys()]).toEqual(['late']);
    expect(index.cutOf('k')).toBe(0);
    expect(index.segmentLive.get(2)).toBe(size('k', 12));
    // The values committed before the delete went with it; a value appended after starts the key at 0.
    expect(index.data.has('k')).toBe(false);
    index.apply(record(Kind.VALUE, 'k', { valueLength: 2 }), 1, 8);
    expect(index.sizeOf('k')).toBe(2);
    index.apply(record(Kind.DROP, '', { stamp: 9 }), 1, 9);
    expect(index.retention.size).toBe(0);
    expect(index.segmentLive.get(2)).toBe(0);
  });

  it('a delete of a key with only a trim forgets it whole', () => {
    const index = threeValues();
    index.apply(trimRecord('k', 3, 10), 2, 4);
    index.apply(record(Kind.DELETE, 'k', { stamp: 5 }), 2, 5);
    expect(index.retention.has('k')).toBe(false);
    expect(index.segmentLive.get(2)).toBe(0);
  });

  it('clear() forgets seals and retention too', () => {
    const index = threeValues();
    index.apply(record(Kind.KEY_SEAL, 'k'), 1, 4);
    index.apply(consumerRecord('k', 'c', 1), 1, 5);
    index.clear();
    expect(index.seals.size + index.retention.size).toBe(0);
  });
});
