/**
 * Removing episodes and reclaiming their space. remove() only appends a
 * `remove` record (and deletes segments left with no episode); compact()
 * copies the live episodes of the other segments that hold removed ones into
 * new segments, writes a whole new index under the next generation, and
 * switches to it by growing the generation key by one byte: a crash at any
 * point leaves the old or the new layout whole.
 */
import { keyParts, typeError } from '@laminate/core/layer';
import { flushBuffers } from './encoding.js';
import type { PoolIndex } from './index-replay.js';
import { GENERATION_KEY, type IndexRecord, indexKey, segmentKey } from './layout.js';
import { type Query, match } from './query.js';
import { readBatches, readFrames, streamOf } from './readers.js';
import type { Writer } from './writer.js';

/** Index records per frame of a rewritten index. */
const RECORDS_PER_FRAME = 10_000;

/** Removes the matching episodes from the index and returns how many (see EpisodePool.remove). */
export async function remove(index: PoolIndex, query: Query): Promise<number> {
  if (query === undefined || query === null || typeof query !== 'object') throw typeError('ERR_INVALID_OPTION', 'remove(query) needs a query; remove({}) removes every episode.');
  return index.locked(async () => {
    const matching = match(index, query);
    if (matching.length === 0) return 0;
    const touched = new Set(matching.map((e) => e.segment));
    await index.append([{ op: 'remove', ids: matching.map((e) => e.id) }]);
    const empty = [...touched].filter((s) => (index.segments.get(s)?.live ?? 0) === 0);
    if (empty.length > 0) {
      await index.stack.bottom.deleteIds(empty.map(segmentKey));
      for (const s of empty) index.segments.delete(s);
    }
    return matching.length;
  });
}

/** Rewrites the segments that hold removed episodes; returns how many, and the bytes reclaimed (see EpisodePool.compact). */
export async function compact(index: PoolIndex, writer: Writer): Promise<{ segments: number; bytes: number }> {
  const { stack } = index;
  return index.locked(async () => {
    const rewrite = [...index.segments].filter(([, s]) => s.dead > 0 && s.live > 0).map(([name]) => name);
    const rewriteSet = new Set(rewrite);
    let reclaimed = 0;
    for (const name of rewrite) reclaimed += index.segments.get(name)!.deadBytes;
    // Copy the live episodes of those segments to new segments of this writer.
    const moved = new Map<number, { segment: string; offset: number }>();
    let segment = writer.newSegment();
    let size = 0;
    for (const { chunk, bytes } of readBatches(index.live.filter((e) => rewriteSet.has(e.segment)))) {
      if (size > 0 && size + bytes > writer.segmentBytes) {
        segment = writer.newSegment();
        size = 0;
      }
      const frames = await readFrames(index, chunk);
      chunk.forEach((e, j) => {
        // A frame of the wrong size is ERR_CORRUPT_FRAME: never copy it on.
        if (frames[j].byteLength !== e.length) streamOf(index, e, frames[j]);
        moved.set(e.id, { segment, offset: size });
        size += e.length;
      });
      await stack.bottom.appendIds([segmentKey(segment)], [Buffer.concat(frames)]);
    }
    await flushBuffers(stack);
    // The new index, under the next generation; it takes effect when the generation key grows.
    const next = index.generation + 1;
    const records: IndexRecord[] = [{ op: 'next', id: index.nextId }];
    for (const e of index.live) records.push({ op: 'add', ...e, ...moved.get(e.id) });
    await stack.bottom.deleteIds([indexKey(next)]);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < records.length; i += RECORDS_PER_FRAME) frames.push(index.frameOf(records.slice(i, i + RECORDS_PER_FRAME)));
    await stack.bottom.appendIds([indexKey(next)], [Buffer.concat(frames)]);
    await flushBuffers(stack);
    await stack.bottom.appendIds([GENERATION_KEY], [Buffer.from([next & 0xff])]);
    await flushBuffers(stack);
    // From here the old index and segments are garbage; delete them, and any segment no entry names.
    await index.reload(next);
    const named = new Set(index.live.map((e) => e.segment));
    const stale: string[] = [];
    for (const id of await stack.bottom.listIds()) {
      const key = keyParts(id);
      const [pool, kind, name] = key;
      if (key.length !== 3 || pool !== 'pool') continue;
      if ((kind === 'segment' && !named.has(name)) || (kind === 'index' && name !== String(next))) stale.push(id);
    }
    await stack.bottom.deleteIds(stale);
    writer.keepSegment(named);
    return { segments: rewrite.length, bytes: reclaimed };
  });
}
