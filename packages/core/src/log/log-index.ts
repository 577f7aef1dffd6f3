import type { KeyId } from '../keys.js';
import { Kind, RECORD_HEADER, readU64 } from './record.js';

/**
 * A key's values, flat: five numbers per appended value, in the store's
 * order — segment, offset of the value in it, length, CRC-32, and the seq of
 * the commit that made it visible (what a tombstone compares with). One flat
 * array per key rather than an object per value keeps the index small.
 */
export type Extents = number[];
export const FIELDS = 5;
/** Heap bytes per key besides its characters and its extents: Map entry, string header, array (see memoryBytes). */
const KEY_OVERHEAD = 96;

/** A record as the index applies it. */
export interface IndexedRecord {
  kind: Kind;
  id: KeyId;
  /** The key's UTF-8 bytes in the record. */
  keyLength: number;
  valueOffset: number;
  valueLength: number;
  valueCrc: number;
  stamp: number;
  from: number;
  /** The value's bytes, for the kinds whose value the index reads (indexReadsValue()). */
  value?: Uint8Array;
}

/** Where a record the index keeps lies, so that compact() keeps it and counts it live. */
export interface RecordPlace {
  segment: number;
  seq: number;
  /** The record's bytes in its segment. */
  bytes: number;
}

/** A consumer's committed position on a key, and the record that says so. */
export interface ConsumerPosition extends RecordPlace {
  position: number;
}

/**
 * A key's retention (retention.ts): where it starts, and its consumers. The
 * start is a position, counting the bytes trimmed; `dropped` is the position
 * where its first kept value begins — at or before the start, as a trim may
 * cut a value, which is then kept whole on disk (its checksum covers it
 * whole) and read from the start on.
 */
export interface KeyRetention {
  start: number;
  dropped: number;
  /** The TRIM record that set the start, while the key is trimmed. */
  trim?: RecordPlace;
  readonly consumers: Map<string, ConsumerPosition>;
}

/** Where a key's stream ends (seal(key)), and where the record that says so lies. */
export interface KeySeal {
  /** The sealed length, in the key's bytes. */
  length: number;
  /** The segment holding the seal's record (compact() moves it), and the seq of the commit that made it. */
  segment: number;
  seq: number;
}

/**
 * The in-memory index of a log() directory: key → extents, the iset values,
 * the seals, and how many bytes each segment holds that are still live. Every process
 * builds the same index by applying the same records in commit-log order.
 */
export class LogIndex {
  readonly data = new Map<KeyId, Extents>();
  readonly meta = new Map<KeyId, Extents>();
  /** The sealed keys: the first seal committed for a key stays until a delete or drop committed after it. */
  readonly seals = new Map<KeyId, KeySeal>();
  /** Keys trimmed or with consumers: their start and consumer positions, until a delete or drop. */
  readonly retention = new Map<KeyId, KeyRetention>();
  /** Committed bytes per segment (where its last committed record ends). */
  readonly segmentEnds = new Map<number, number>();
  /** Value bytes the index points to. */
  liveBytes = 0;
  /**
   * Segment bytes of the records the index points to (header, key and
   * value of each live value and iset): the segments' bytes beyond this are
   * garbage that compact() can give back.
   */
  liveRecordBytes = 0;
  /** The same per segment: what compact() reads to choose the segments worth copying. */
  readonly segmentLive = new Map<number, number>();
  /** Values the index points to, and the UTF-16 length of its keys: what its memory is estimated from. */
  values = 0;
  keyChars = 0;
  /** Records applied, for the checkpoint policy. */
  applied = 0;
  /** Segments whose writers said they append no more to them. */
  readonly sealed = new Set<number>();

  apply(record: IndexedRecord, segment: number, seq: number): void {
    this.applied++;
    switch (record.kind) {
      case Kind.VALUE: {
        const extents = this.data.get(record.id);
        // A new key's array is made at its exact size: most keys of a large store hold one value.
        if (extents === undefined) {
          this.data.set(record.id, [segment, record.valueOffset, record.valueLength, record.valueCrc, seq]);
          this.keyChars += record.id.length;
        } else extents.push(segment, record.valueOffset, record.valueLength, record.valueCrc, seq);
        this.liveBytes += record.valueLength;
        this.live(segment, RECORD_HEADER + record.keyLength + record.valueLength);
        this.values++;
        return;
      }
      case Kind.DELETE:
        this.unseal(record.id, record.stamp);
        this.unretain(record.id, record.stamp);
        return this.spare(this.data, record.id, record.stamp);
      case Kind.DROP:
        for (const id of [...this.data.keys()]) this.spare(this.data, id, record.stamp);
        for (const id of [...this.meta.keys()]) this.spare(this.meta, id, record.stamp);
        for (const id of [...this.seals.keys()]) this.unseal(id, record.stamp);
        for (const id of [...this.retention.keys()]) this.unretain(id, record.stamp);
        return;
      case Kind.TRIM:
        return this.trim(record, segment, seq);
      case Kind.CONSUMER:
        return this.consumer(record, segment, seq);
      case Kind.FORGET: {
        const consumers = this.retention.get(record.id)?.consumers;
        const name = Buffer.from(record.value!).toString('utf8');
        const gone = consumers?.get(name);
        if (gone === undefined) return;
        consumers!.delete(name);
        this.live(gone.segment, -gone.bytes);
        return this.tidy(record.id);
      }
      case Kind.KEY_SEAL:
        // The key's length now (a position: its start and what it holds), as every process computes it at this same point of the commit log.
        return this.seal(record, segment, seq, this.startOf(record.id) + this.sizeOf(record.id));
      case Kind.KEY_SEAL_AT:
        if (record.from === 0) return this.seal(record, segment, seq, record.stamp);
        return this.moveSeal(record, segment);
      case Kind.ISET:
        // The first value committed wins, in every process alike.
        if (!this.meta.has(record.id)) {
          this.meta.set(record.id, [segment, record.valueOffset, record.valueLength, record.valueCrc, seq]);
          this.live(segment, RECORD_HEADER + record.keyLength + record.valueLength);
        }
        return;
      case Kind.SEAL:
        this.sealed.add(segment);
        return;
      case Kind.MOVE:
        return this.move(this.data.get(record.id), record, segment);
      case Kind.MOVE_ISET:
        return this.move(this.meta.get(record.id), record, segment);
      default:
        return;
    }
  }

  /** Removes the extents of `id` committed before `stamp`: a delete spares what was appended after the deleter last read. */
  private spare(map: Map<KeyId, Extents>, id: KeyId, stamp: number): void {
    const extents = map.get(id);
    if (extents === undefined) return;
    let kept = 0;
    const header = RECORD_HEADER + Buffer.byteLength(id, 'utf8');
    for (let i = 0; i < extents.length; i += FIELDS) {
      if (extents[i + 4] < stamp) {
        this.live(extents[i], -(header + extents[i + 2]));
        if (map === this.data) {
          this.liveBytes -= extents[i + 2];
          this.values--;
        }
        continue;
      }
      for (let f = 0; f < FIELDS; f++) extents[kept + f] = extents[i + f];
      kept += FIELDS;
    }
    if (kept > 0) extents.length = kept;
    else {
      map.delete(id);
      if (map === this.data) this.keyChars -= id.length;
    }
  }

  /** The first seal of a key stays: a later one, from this process or another, changes nothing. */
  private seal(record: IndexedRecord, segment: number, seq: number, length: number): void {
    if (this.seals.has(record.id)) return;
    this.seals.set(record.id, { length, segment, seq });
    this.live(segment, RECORD_HEADER + record.keyLength);
  }

  /**
   * compact() copied a seal out of segment `from`: the seal now lives in the
   * copy, unless the key's seal is no longer the one in `from` (deleted,
   * perhaps sealed again elsewhere, while the copy was made) — `from` takes
   * no new records, so a seal still there is the one that was copied.
   */
  private moveSeal(record: IndexedRecord, segment: number): void {
    const seal = this.seals.get(record.id);
    if (seal === undefined || seal.segment !== record.from) return;
    const bytes = RECORD_HEADER + record.keyLength;
    this.live(record.from, -bytes);
    this.live(segment, bytes);
    seal.segment = segment;
  }

  /**
   * trim(): the key starts at the position the record holds, but never past
   * the values committed before the trimmer's stamp (a trim cannot drop what
   * its writer could not have read), and only forward. Its values wholly
   * before the start leave the index; a value the start cuts stays whole.
   * compact()'s copy (from ≠ 0) only moves where the record lies.
   */
  private trim(record: IndexedRecord, segment: number, seq: number): void {
    const bytes = RECORD_HEADER + record.keyLength + record.valueLength;
    const retention = this.retention.get(record.id);
    if (record.from !== 0) {
      if (retention?.trim?.segment !== record.from) return;
      this.live(record.from, -bytes);
      this.live(segment, bytes);
      retention.trim.segment = segment;
      return;
    }
    const extents = this.data.get(record.id);
    const kept: KeyRetention = retention ?? { start: 0, dropped: 0, consumers: new Map() };
    let seen = kept.dropped;
    if (extents !== undefined) for (let i = 0; i < extents.length && extents[i + 4] < record.stamp; i += FIELDS) seen += extents[i + 2];
    const to = Math.min(readU64(Buffer.from(record.value!.buffer, record.value!.byteOffset, 8), 0), seen);
    if (to <= kept.start) return;
    let drop = 0;
    if (extents !== undefined) {
      const header = RECORD_HEADER + record.keyLength;
      while (drop < extents.length && kept.dropped + extents[drop + 2] <= to) {
        this.live(extents[drop], -(header + extents[drop + 2]));
        this.liveBytes -= extents[drop + 2];
        this.values--;
        kept.dropped += extents[drop + 2];
        drop += FIELDS;
      }
      // The key stays, holding nothing when every value went: it is listed, and its start kept, as in the other stores.
      extents.splice(0, drop);
    }
    kept.start = to;
    if (kept.trim !== undefined) this.live(kept.trim.segment, -kept.trim.bytes);
    kept.trim = { segment, seq, bytes };
    this.live(segment, bytes);
    this.retention.set(record.id, kept);
  }

  /** commit(): a consumer's position only moves forward. compact()'s copy (from ≠ 0) only moves where the record lies. */
  private consumer(record: IndexedRecord, segment: number, seq: number): void {
    const value = Buffer.from(record.value!.buffer, record.value!.byteOffset, record.value!.byteLength);
    const position = readU64(value, 0);
    const name = value.toString('utf8', 8);
    const bytes = RECORD_HEADER + record.keyLength + record.valueLength;
    const retention = this.retention.get(record.id);
    const known = retention?.consumers.get(name);
    if (record.from !== 0) {
      if (known?.segment !== record.from) return;
      this.live(record.from, -bytes);
      this.live(segment, bytes);
      known.segment = segment;
      return;
    }
    if (known !== undefined && known.position >= position) return;
    const kept: KeyRetention = retention ?? { start: 0, dropped: 0, consumers: new Map() };
    if (known !== undefined) this.live(known.segment, -known.bytes);
    kept.consumers.set(name, { position, segment, seq, bytes });
    this.live(segment, bytes);
    this.retention.set(record.id, kept);
  }

  /**
   * A delete or drop: the key's values left start at position 0 again (a
   * key written again is a new stream), and its consumers committed before
   * it are forgotten.
   */
  private unretain(id: KeyId, stamp: number): void {
    const retention = this.retention.get(id);
    if (retention === undefined) return;
    if (retention.trim !== undefined) this.live(retention.trim.segment, -retention.trim.bytes);
    retention.trim = undefined;
    retention.start = 0;
    retention.dropped = 0;
    for (const [name, consumer] of [...retention.consumers]) {
      if (consumer.seq >= stamp) continue;
      retention.consumers.delete(name);
      this.live(consumer.segment, -consumer.bytes);
    }
    this.tidy(id);
  }

  /** Forgets the retention of a key that is neither trimmed nor consumed. */
  private tidy(id: KeyId): void {
    const retention = this.retention.get(id);
    if (retention !== undefined && retention.trim === undefined && retention.consumers.size === 0) this.retention.delete(id);
  }

  /** Where `id` starts: 0 unless trimmed. */
  startOf(id: KeyId): number {
    return this.retention.get(id)?.start ?? 0;
  }

  /** How many bytes of its first kept value `id` skips: the part before its start. */
  cutOf(id: KeyId): number {
    const retention = this.retention.get(id);
    return retention === undefined ? 0 : retention.start - retention.dropped;
  }

  /** A delete or drop takes back the key's seal committed before it, so that a key written again is a new stream. */
  private unseal(id: KeyId, stamp: number): void {
    const seal = this.seals.get(id);
    if (seal === undefined || seal.seq >= stamp) return;
    this.seals.delete(id);
    this.live(seal.segment, -(RECORD_HEADER + Buffer.byteLength(id, 'utf8')));
  }

  /** The segments some value or seal of the index is in. */
  referenced(): Set<number> {
    const out = new Set<number>();
    for (const map of [this.data, this.meta]) for (const extents of map.values()) for (let i = 0; i < extents.length; i += FIELDS) out.add(extents[i]);
    for (const seal of this.seals.values()) out.add(seal.segment);
    for (const retention of this.retention.values()) {
      if (retention.trim !== undefined) out.add(retention.trim.segment);
      for (const consumer of retention.consumers.values()) out.add(consumer.segment);
    }
    return out;
  }

  committed(segment: number, end: number): void {
    if (end > (this.segmentEnds.get(segment) ?? 0)) this.segmentEnds.set(segment, end);
  }

  /** The bytes `id` holds: from its start on. */
  sizeOf(id: KeyId): number {
    const extents = this.data.get(id);
    if (extents === undefined) return 0;
    let size = 0;
    for (let i = 2; i < extents.length; i += FIELDS) size += extents[i];
    return size - this.cutOf(id);
  }

  /** Counts `bytes` of records as live (or, negative, as no longer live) in `segment`. */
  live(segment: number, bytes: number): void {
    this.liveRecordBytes += bytes;
    this.segmentLive.set(segment, (this.segmentLive.get(segment) ?? 0) + bytes);
  }

  /** How much memoryBytes() would grow by if one value were appended to each of `ids`. */
  memoryAdded(ids: readonly KeyId[]): number {
    let added = ids.length * FIELDS * 8;
    const fresh = new Set<KeyId>();
    for (const id of ids) if (!this.data.has(id) && !fresh.has(id)) fresh.add(id);
    for (const id of fresh) added += KEY_OVERHEAD + id.length;
    return added;
  }

  /** Bytes of `segment` no live value uses. */
  segmentGarbage(segment: number): number {
    return Math.max(0, (this.segmentEnds.get(segment) ?? 0) - (this.segmentLive.get(segment) ?? 0));
  }

  /**
   * A value compact() copied: the extent still at its old place (segment
   * `from`, offset `stamp`) now points at the copy. One that a later delete
   * removed stays removed, so a move never brings a value back.
   */
  private move(extents: Extents | undefined, record: IndexedRecord, segment: number): void {
    if (extents === undefined) return;
    for (let i = 0; i < extents.length; i += FIELDS) {
      if (extents[i] === record.from && extents[i + 1] === record.stamp) {
        const bytes = RECORD_HEADER + record.keyLength + extents[i + 2];
        this.live(record.from, -bytes);
        this.live(segment, bytes);
        extents[i] = segment;
        extents[i + 1] = record.valueOffset;
        return;
      }
    }
  }

  /** Segment bytes no live value or key seal uses: removed values, tombstones, values copied elsewhere, segment seals. */
  garbageBytes(): number {
    return Math.max(0, this.segmentBytes() - this.liveRecordBytes);
  }

  /**
   * An estimate of the index's heap: per key a Map entry, its string and its
   * array (about 96 bytes and its characters), and 8 bytes per number of
   * its extents. Measured against heap growth at 1,000,000 keys of one value
   * (docs/log.md).
   */
  memoryBytes(): number {
    return (this.data.size + this.meta.size + this.seals.size + this.retention.size) * KEY_OVERHEAD + this.keyChars + (this.values + this.meta.size) * FIELDS * 8;
  }

  /** Bytes in the segments that the index knows of. */
  segmentBytes(): number {
    let total = 0;
    for (const end of this.segmentEnds.values()) total += end;
    return total;
  }

  clear(): void {
    this.data.clear();
    this.meta.clear();
    this.seals.clear();
    this.retention.clear();
    this.segmentEnds.clear();
    this.sealed.clear();
    this.liveBytes = 0;
    this.liveRecordBytes = 0;
    this.segmentLive.clear();
    this.values = 0;
    this.keyChars = 0;
  }
}
