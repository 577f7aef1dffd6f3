/**
 * Where a pool keeps everything: tuple keys ['pool', …] of the stack's bytes
 * store, ordinary laminate data that the plain layers read (docs/pool.md §8).
 *
 *   ['pool', 'segment', name]   episodes, each one frame: exactly what arrow()
 *                               would append for it (an Arrow IPC stream),
 *                               through the stack's compression layers. A
 *                               pool instance appends to segments of its own
 *                               and starts a new one past `segmentBytes`.
 *   ['pool', 'index', gen]      the index: msgpack record frames (what
 *                               msgpack(…, { records: true }) writes over the
 *                               same compression layers) of `add`, `remove`
 *                               and `next` records, in commit order.
 *   ['pool', 'generation']      one byte per compaction: its length names the
 *                               index key in use.
 *   iset ['pool', 'schema']     the schema (set once, kept forever).
 */
import { type Codec, msgpack } from '@laminate/core';
import { type KeyId, keyId } from '@laminate/core/layer';
import type { Stack } from './encoding.js';

/** What the index holds about one episode: where its frame lies, and its metadata as declared. */
export interface Entry {
  id: number;
  segment: string;
  offset: number;
  length: number;
  /** Number of timesteps. */
  steps: number;
  /** Every declared metadata field by name; times in milliseconds since 1970, null where a nullable field was left out. */
  fields: Record<string, unknown>;
}

/** The value of metadata field `name` of an entry (`id` included). */
export function fieldOf(entry: Entry, name: string): unknown {
  return name === 'id' ? entry.id : entry.fields[name];
}

export type IndexRecord =
  | ({ op: 'add' } & Entry)
  | { op: 'remove'; ids: number[] }
  /** Written first by compaction: ids continue after this one, whatever was removed. */
  | { op: 'next'; id: number };

export const SCHEMA_KEY = keyId(['pool', 'schema']);
export const GENERATION_KEY = keyId(['pool', 'generation']);
export const indexKey = (generation: number): KeyId => keyId(['pool', 'index', String(generation)]);

// Segment key ids are asked for once per episode read: keep them, bounded.
const segmentKeys = new Map<string, KeyId>();
export function segmentKey(name: string): KeyId {
  let id = segmentKeys.get(name);
  if (id === undefined) {
    if (segmentKeys.size > 10_000) segmentKeys.clear();
    segmentKeys.set(name, (id = keyId(['pool', 'segment', name])));
  }
  return id;
}

/** The codec of the index frames (and of the stored schema): msgpack records, as msgpack(…, { records: true }) over the stack writes them. */
export function recordCodec(stack: Stack): Codec<IndexRecord[]> {
  return msgpack<IndexRecord>(stack.inner, { records: true }).codec;
}
