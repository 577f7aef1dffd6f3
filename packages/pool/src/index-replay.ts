/**
 * The pool's index in memory, replayed from the index key. Every operation
 * runs under the stack's lock and first reads the frames other processes
 * appended since its last look, so each sees what they committed; ids come
 * from here under the lock, so two processes never give the same one.
 */
import { type Codec } from '@laminate/core';
import { readRangeIds, splitFrames } from '@laminate/core/layer';
import { decodeUp, encodeDown, flushBuffers, type Stack } from './encoding.js';
import { type Entry, GENERATION_KEY, type IndexRecord, indexKey } from './layout.js';
import type { PoolSchema } from './schema.js';

export interface SegmentStats {
  live: number;
  dead: number;
  deadBytes: number;
}

export class PoolIndex {
  readonly entries = new Map<number, Entry>();
  /** Live entries in id order: what a query without conditions matches. */
  live: Entry[] = [];
  /** Live entries by the schema's time field (then id), for time ranges. */
  private byTime: Entry[] = [];
  /** field → value → entries, for equality and membership on fields that are not times. */
  private readonly byValue = new Map<string, Map<unknown, Set<Entry>>>();
  readonly segments = new Map<string, SegmentStats>();
  nextId = 0;
  generation = 0;
  /** Bytes of the index key read so far; -1 when unknown (a failed append), so the next look reads it all again. */
  private consumed = 0;
  /** Set when the index ends in a partial frame, left by a writer killed mid-append; cut off before the next append. */
  private torn = false;

  constructor(
    readonly stack: Stack,
    readonly schema: PoolSchema,
    private readonly codec: Codec<IndexRecord[]>,
  ) {}

  /** Runs `fn` under the stack's lock, with the index up to date. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.stack.bottom.withLock(async () => {
      await this.refresh();
      return fn();
    });
  }

  /** Reads what other processes added to the index since the last look (call under the lock). */
  private async refresh(): Promise<void> {
    const [generation, tail] = await readRangeIds(this.stack.bottom, [
      { id: GENERATION_KEY, offset: 0, length: Infinity },
      { id: indexKey(this.generation), offset: this.consumed, length: Infinity },
    ]);
    if (generation.byteLength !== this.generation || this.consumed < 0) return this.reload(generation.byteLength);
    this.applyBytes(tail);
  }

  /** Forgets everything and reads the index of `generation` from its start (call under the lock). */
  async reload(generation: number): Promise<void> {
    this.entries.clear();
    this.live = [];
    this.byTime = [];
    this.byValue.clear();
    this.segments.clear();
    this.nextId = 0;
    this.generation = generation;
    this.consumed = 0;
    const [bytes] = await readRangeIds(this.stack.bottom, [{ id: indexKey(generation), offset: 0, length: Infinity }]);
    this.applyBytes(bytes);
  }

  /** Applies the whole frames of `bytes` (the index from `consumed` on); a torn last frame is left for repair(). */
  private applyBytes(bytes: Uint8Array): void {
    const { payloads, rest } = splitFrames(bytes, indexKey(this.generation), false);
    for (const payload of payloads) this.apply(this.codec.decode(decodeUp(this.stack, payload, 'index', true)));
    this.consumed += rest;
    if (rest < bytes.byteLength) this.torn = true;
  }

  private async repair(): Promise<void> {
    const id = indexKey(this.generation);
    const [whole] = await readRangeIds(this.stack.bottom, [{ id, offset: 0, length: Infinity }]);
    const kept = Buffer.from(whole.subarray(0, this.consumed));
    await this.stack.bottom.deleteIds([id]);
    if (kept.byteLength > 0) await this.stack.bottom.appendIds([id], [kept]);
    await flushBuffers(this.stack);
    this.torn = false;
  }

  /** The records as one frame of the index at the bottom of the stack. */
  frameOf(records: IndexRecord[]): Uint8Array {
    return encodeDown(this.stack, this.codec.encode(records));
  }

  /** Appends index records after the data they name is durable, and applies them (call under the lock). */
  async append(records: IndexRecord[]): Promise<void> {
    if (this.torn) await this.repair();
    const bytes = this.frameOf(records);
    try {
      await this.stack.bottom.appendIds([indexKey(this.generation)], [bytes]);
      await flushBuffers(this.stack);
    } catch (error) {
      // Whether the records reached the index is unknown: read it again next time.
      this.consumed = -1;
      throw error;
    }
    this.consumed += bytes.byteLength;
    this.apply(records);
  }

  private apply(records: IndexRecord[]): void {
    const removed: Entry[] = [];
    for (const record of records) {
      if (record.op === 'add') this.add(record);
      else if (record.op === 'remove') {
        for (const id of record.ids) {
          const entry = this.entries.get(id);
          if (entry) removed.push(entry);
        }
      } else if (record.op === 'next') this.nextId = Math.max(this.nextId, record.id);
    }
    if (removed.length > 0) this.unindex(removed);
  }

  private add(record: Entry): void {
    if (this.entries.has(record.id)) return;
    // Pools written before metadata became the user's declaration kept vehicle, driver and start beside the other fields.
    const { vehicle, driver, start } = record as Partial<Record<'vehicle' | 'driver' | 'start', unknown>>;
    const fields = start === undefined ? (record.fields ?? {}) : { vehicle, driver, start, ...record.fields };
    const entry: Entry = { id: record.id, segment: record.segment, offset: record.offset, length: record.length, steps: record.steps, fields };
    this.entries.set(entry.id, entry);
    this.nextId = Math.max(this.nextId, entry.id + 1);
    // Ids mostly arrive in order: appending is the common case.
    if (this.live.length === 0 || this.live[this.live.length - 1].id < entry.id) this.live.push(entry);
    else this.live.splice(lowerBound(this.live, (e) => e.id < entry.id), 0, entry);
    const time = this.timeOf(entry);
    this.byTime.splice(lowerBound(this.byTime, (e) => this.timeOf(e) < time || (this.timeOf(e) === time && e.id < entry.id)), 0, entry);
    for (const field of this.schema.metadata) {
      if (field.type === 'timestamp') continue;
      let values = this.byValue.get(field.name);
      if (!values) this.byValue.set(field.name, (values = new Map()));
      const value = entry.fields[field.name];
      let set = values.get(value);
      if (!set) values.set(value, (set = new Set()));
      set.add(entry);
    }
    this.stats(entry.segment).live++;
  }

  /** Takes removed episodes out of every lookup and counts their bytes as dead in their segments. */
  private unindex(removed: Entry[]): void {
    const gone = new Set(removed);
    for (const entry of removed) {
      this.entries.delete(entry.id);
      for (const values of this.byValue.values()) {
        for (const [value, set] of values) {
          if (set.delete(entry) && set.size === 0) values.delete(value);
        }
      }
      const stats = this.stats(entry.segment);
      stats.live--;
      stats.dead++;
      stats.deadBytes += entry.length;
    }
    this.live = this.live.filter((e) => !gone.has(e));
    this.byTime = this.byTime.filter((e) => !gone.has(e));
  }

  private stats(segment: string): SegmentStats {
    let stats = this.segments.get(segment);
    if (!stats) this.segments.set(segment, (stats = { live: 0, dead: 0, deadBytes: 0 }));
    return stats;
  }

  private timeOf(entry: Entry): number {
    return entry.fields[this.schema.time] as number;
  }

  /** The live entries whose time is in [from, to), in time order. */
  between(from: number, to: number): Entry[] {
    const a = lowerBound(this.byTime, (e) => this.timeOf(e) < from);
    const b = lowerBound(this.byTime, (e) => this.timeOf(e) < to);
    return this.byTime.slice(a, Math.max(a, b));
  }

  /** The live entries whose `field` (not a time) holds `value`. */
  withValue(field: string, value: unknown): Set<Entry> | undefined {
    return this.byValue.get(field)?.get(value);
  }
}

/** The first index i with !before(list[i]), for a list sorted so that `before` holds on a prefix. */
function lowerBound<T>(list: readonly T[], before: (x: T) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
