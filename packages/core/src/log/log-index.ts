import type { KeyId } from '../keys.js';
import { Kind } from './record.js';

/**
 * A key's values, flat: five numbers per appended value, in the store's
 * order — segment, offset of the value in it, length, CRC-32, and the seq of
 * the commit that made it visible (what a tombstone compares with). One flat
 * array per key rather than an object per value keeps the index small.
 */
export type Extents = number[];
export const FIELDS = 5;

/** A record as the index applies it. */
export interface IndexedRecord {
  kind: Kind;
  id: KeyId;
  valueOffset: number;
  valueLength: number;
  valueCrc: number;
  stamp: number;
  from: number;
}

/**
 * The in-memory index of a log() directory: key → extents, the iset values,
 * and how many bytes each segment holds that are still live. Every process
 * builds the same index by applying the same records in commit-log order.
 */
export class LogIndex {
  readonly data = new Map<KeyId, Extents>();
  readonly meta = new Map<KeyId, Extents>();
  /** Committed bytes per segment (where its last committed record ends). */
  readonly segmentEnds = new Map<number, number>();
  /** Value bytes the index points to. */
  liveBytes = 0;
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
        if (extents === undefined) this.data.set(record.id, [segment, record.valueOffset, record.valueLength, record.valueCrc, seq]);
        else extents.push(segment, record.valueOffset, record.valueLength, record.valueCrc, seq);
        this.liveBytes += record.valueLength;
        return;
      }
      case Kind.DELETE:
        return this.spare(this.data, record.id, record.stamp);
      case Kind.DROP:
        for (const id of [...this.data.keys()]) this.spare(this.data, id, record.stamp);
        for (const id of [...this.meta.keys()]) this.spare(this.meta, id, record.stamp);
        return;
      case Kind.ISET:
        // The first value committed wins, in every process alike.
        if (!this.meta.has(record.id)) this.meta.set(record.id, [segment, record.valueOffset, record.valueLength, record.valueCrc, seq]);
        return;
      case Kind.SEAL:
        this.sealed.add(segment);
        return;
      case Kind.MOVE:
        return moveExtent(this.data.get(record.id), record, segment);
      case Kind.MOVE_ISET:
        return moveExtent(this.meta.get(record.id), record, segment);
      default:
        return;
    }
  }

  /** Removes the extents of `id` committed before `stamp`: a delete spares what was appended after the deleter last read. */
  private spare(map: Map<KeyId, Extents>, id: KeyId, stamp: number): void {
    const extents = map.get(id);
    if (extents === undefined) return;
    let kept = 0;
    for (let i = 0; i < extents.length; i += FIELDS) {
      if (extents[i + 4] < stamp) {
        if (map === this.data) this.liveBytes -= extents[i + 2];
        continue;
      }
      for (let f = 0; f < FIELDS; f++) extents[kept + f] = extents[i + f];
      kept += FIELDS;
    }
    if (kept === 0) map.delete(id);
    else extents.length = kept;
  }

  /** The segments some value of the index is in. */
  referenced(): Set<number> {
    const out = new Set<number>();
    for (const map of [this.data, this.meta]) for (const extents of map.values()) for (let i = 0; i < extents.length; i += FIELDS) out.add(extents[i]);
    return out;
  }

  committed(segment: number, end: number): void {
    if (end > (this.segmentEnds.get(segment) ?? 0)) this.segmentEnds.set(segment, end);
  }

  sizeOf(id: KeyId): number {
    const extents = this.data.get(id);
    if (extents === undefined) return 0;
    let size = 0;
    for (let i = 2; i < extents.length; i += FIELDS) size += extents[i];
    return size;
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
    this.segmentEnds.clear();
    this.sealed.clear();
    this.liveBytes = 0;
  }
}

/**
 * A value compact() copied: the extent still at its old place (segment
 * `from`, offset `stamp`) now points at the copy. One that a later delete
 * removed stays removed, so a move never brings a value back.
 */
function moveExtent(extents: Extents | undefined, record: IndexedRecord, segment: number): void {
  if (extents === undefined) return;
  for (let i = 0; i < extents.length; i += FIELDS) {
    if (extents[i] === record.from && extents[i + 1] === record.stamp) {
      extents[i] = segment;
      extents[i + 1] = record.valueOffset;
      return;
    }
  }
}
