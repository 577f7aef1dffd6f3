/**
 * Reading episodes back: each one alone, at the offset and length its index
 * entry records (one positioned read per episode on file()), never scanning
 * a segment. sample() joins the episodes it draws into one table; get() and
 * iterate() hand them out one by one.
 */
import { LaminateError } from '@laminate/core';
import { readRangeIds, typeError } from '@laminate/core/layer';
import type { Table } from 'apache-arrow';
import { decodeUp, fromStream } from './encoding.js';
import type { PoolIndex } from './index-replay.js';
import { type Entry, segmentKey } from './layout.js';
import { type EpisodeMeta, type Query, match, metaOf } from './query.js';
import { distinctIndices, generator, seedOf } from './random.js';
import { sampleTable } from './table.js';

export interface SampleOptions {
  /** The same seed, pool contents and query give the same sample. */
  seed?: number;
}

/** Episodes read per locked section by iterate() and compact(): memory stays bounded however many there are. */
const READ_BATCH_BYTES = 8 << 20;

/** Consecutive runs of entries of up to READ_BATCH_BYTES (one larger entry alone), read with one readFrames call each. */
export function* readBatches(entries: readonly Entry[]): Generator<{ chunk: Entry[]; bytes: number }> {
  for (let i = 0; i < entries.length; ) {
    const chunk: Entry[] = [];
    let bytes = 0;
    while (i < entries.length && (chunk.length === 0 || bytes + entries[i].length <= READ_BATCH_BYTES)) {
      bytes += entries[i].length;
      chunk.push(entries[i++]);
    }
    yield { chunk, bytes };
  }
}

/** Reads the frames of `entries` (call under the lock); an empty frame means the episode's data is gone. */
export function readFrames(index: PoolIndex, entries: readonly Entry[]): Promise<Uint8Array[]> {
  return readRangeIds(
    index.stack.bottom,
    entries.map((e) => ({ id: segmentKey(e.segment), offset: e.offset, length: e.length })),
  );
}

/** The episode's Arrow IPC stream out of its frame, or ERR_CORRUPT_FRAME when the frame is not the size the index records. */
export function streamOf(index: PoolIndex, entry: Entry, frame: Uint8Array): Uint8Array {
  if (frame.byteLength !== entry.length) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `Episode ${entry.id} should be ${entry.length} bytes at byte ${entry.offset} of segment ${entry.segment}, but ${frame.byteLength} are there: the pool's files were changed outside it. remove({ id: ${entry.id} }) drops it from the index.`);
  }
  return decodeUp(index.stack, frame, `episode ${entry.id}`);
}

function episodeOf(index: PoolIndex, entry: Entry, frame: Uint8Array): { meta: EpisodeMeta; table: Table } {
  return { meta: metaOf(index.schema, entry), table: fromStream(streamOf(index, entry, frame), `episode ${entry.id}`) };
}

/** n distinct episodes drawn uniformly from those matching `query`, as one table (see EpisodePool.sample). */
export async function sample(index: PoolIndex, n: number, query: Query | undefined, opts: SampleOptions): Promise<Table> {
  if (!Number.isInteger(n) || n < 0) throw typeError('ERR_INVALID_OPTION', `sample(n): n must be a whole number of episodes, 0 or more; got ${String(n)}.`);
  if (opts.seed !== undefined && !(typeof opts.seed === 'number' && Number.isFinite(opts.seed))) {
    throw typeError('ERR_INVALID_OPTION', `sample(): seed must be a finite number (the same seed gives the same sample); got ${String(opts.seed)}.`);
  }
  const random = generator(seedOf(opts.seed));
  const { picks, frames } = await index.locked(async () => {
    const matching = match(index, query);
    const picks = distinctIndices(matching.length, Math.min(n, matching.length), random).map((i) => matching[i]);
    return { picks, frames: await readFrames(index, picks) };
  });
  // Decoding and joining run outside the lock.
  const streams = picks.map((e, i) => streamOf(index, e, frames[i]));
  return sampleTable(index.schema, picks, streams);
}

/** One episode's steps and metadata, or undefined when the pool does not hold it. */
export async function getEpisode(index: PoolIndex, id: number): Promise<{ meta: EpisodeMeta; table: Table } | undefined> {
  const found = await index.locked(async () => {
    const entry = index.entries.get(id);
    return entry ? { entry, frame: (await readFrames(index, [entry]))[0] } : undefined;
  });
  return found && episodeOf(index, found.entry, found.frame);
}

/** The matching episodes one by one in id order, as of the call; `closed()` is checked between batches. */
export async function* iterate(index: PoolIndex, query: Query | undefined, closed: () => boolean): AsyncIterable<{ meta: EpisodeMeta; table: Table }> {
  const matching = await index.locked(async () => match(index, query).slice());
  for (const { chunk } of readBatches(matching)) {
    if (closed()) throw new LaminateError('ERR_CLOSED', 'The EpisodePool was closed while iterating.');
    // Under the lock, so that no other process is halfway through changing a segment; the matches stay those of the start.
    const frames = await index.stack.bottom.withLock(() => readFrames(index, chunk));
    for (let j = 0; j < chunk.length; j++) {
      // Removed (and compacted away) since the iteration started.
      if (frames[j].byteLength === 0) continue;
      yield episodeOf(index, chunk[j], frames[j]);
    }
  }
}
