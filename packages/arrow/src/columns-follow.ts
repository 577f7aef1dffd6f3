/**
 * Following an arrowColumns() key: one Table per appended table, as it lands.
 *
 * An append writes one frame to each column's sub-key (arrow-columns.ts), and
 * under file() each is a file of its own, so a follower may see column a's
 * frame of an append before column b's. The follower follows each chosen
 * column's sub-key as a stream of frames and yields append i only once every
 * chosen column's frame i has landed: never half a table.
 *
 * A **position** is a count of appended tables: the follower's position is
 * how many of the key's tables come before the next one it yields. It means
 * the same whatever columns are followed, and in any process: resuming from
 * position n skips the first n frames of each chosen column, walking their
 * headers (not their payloads) from the start of each sub-key.
 *
 * A **seal** of the key seals every column's sub-key at its length, then the
 * `.schema` sub-key, under the inner store's lock, so that every column ends
 * after the same append. The `.schema` seal is the key's: a key sealed before
 * its first append ends its followers with no table, even if tables are
 * appended later (bytes appended after a seal are not followed). Before each
 * table the follower looks whether the key is sealed, and ends at the number
 * of tables the seal holds: a column's follower that fell behind may read
 * frames appended after the seal, and those tables are not yielded.
 *
 * Retention (consumer positions, trims) is refused: the inner store's
 * records and trims are of bytes in one key, and a position here is neither.
 */
import type { FollowOptions } from '@laminate/core';
import { type BaseStore, BytesStore, FRAME_HEADER_BYTES, type FollowRequest, type Followed, type FrameReader, type KeyId, LaminateError, WrapperStore, followFrames, typeError } from '@laminate/core/layer';
import type { Schema, Table } from 'apache-arrow';

/** follow()'s options for arrowColumns(): those of every store, and the columns to follow (all by default). */
export interface ColumnsFollowOptions extends FollowOptions {
  /** Only these columns, in this order; every one of the key's columns by default. */
  columns?: readonly string[];
}

/** What the follower needs of the arrowColumns() store: its inner store, its layout and its decoding. */
export interface ColumnsLayout {
  inner: BaseStore<Uint8Array>;
  /** The key's schema if it has one now (read from its `.schema` sub-key). */
  schemaOf(id: KeyId): Promise<Schema | undefined>;
  /** The chosen columns' schema, in order; ERR_SCHEMA for a column the key lacks. */
  chosen(schema: Schema, columns: readonly string[] | undefined, id: KeyId): Schema;
  schemaId(id: KeyId): KeyId;
  columnId(id: KeyId, name: string): KeyId;
  /** How a column's frames decode; `schemaReader` decodes the `.schema` frame, a schema and no rows. */
  reader(name: string): FrameReader<Table>;
  schemaReader: FrameReader<Schema>;
  /** The chosen columns' frames of one append, side by side as one Table. */
  join(schema: Schema, parts: Table[], id: KeyId): Table;
}

/** Reads at most this much at a time while walking frame headers to a position. */
const SCAN_BYTES = 64 << 10;

export function checkColumnsOption(columns: unknown): readonly string[] | undefined {
  if (columns === undefined) return undefined;
  if (!Array.isArray(columns) || columns.length === 0 || !columns.every((name) => typeof name === 'string')) {
    throw typeError('ERR_INVALID_OPTION', 'follow(key, { columns }): columns must be a non-empty array of column names, such as ["price"]; leave it out to follow every column.');
  }
  if (new Set(columns).size !== columns.length) throw typeError('ERR_INVALID_OPTION', 'follow(key, { columns }): each column may be named once.');
  return columns as readonly string[];
}

export async function* followColumns(layout: ColumnsLayout, id: KeyId, request: FollowRequest, columns: readonly string[] | undefined): AsyncIterable<Followed<Table>> {
  const { inner } = layout;
  const schemaId = layout.schemaId(id);
  // The key's seal is its .schema sub-key's: sealed at 0, the key was sealed before any table landed.
  if ((await inner.sealedId(schemaId)) === 0) {
    request.started?.(0);
    request.endedBy = 'sealed';
    return;
  }
  let from = request.from;
  let schema = await layout.schemaOf(id);
  if (schema === undefined) {
    // Nothing appended yet: every table to come is after 'end' too, so 'end' is position 0.
    request.started?.(0);
    if (from === 'end') from = 0;
    schema = await awaitSchema(layout, schemaId, request);
    if (schema === undefined) return;
  }
  const wanted = layout.chosen(schema, columns, id);
  const ids = wanted.fields.map((field) => layout.columnId(id, field.name));
  const starts = await startsAt(inner, ids, from);
  if (from === 'end') request.started?.(starts.count);

  const subRequests = ids.map((_, c): FollowRequest => ({ from: starts.offsets[c], signal: request.signal, idleTimeoutMs: request.idleTimeoutMs, pollMs: request.pollMs }));
  const contiguous = !(inner instanceof WrapperStore);
  const columnsFrames = ids.map((columnId, c) => {
    const frames = followFrames(inner.followId(columnId, subRequests[c]), columnId, layout.reader(wanted.fields[c].name), subRequests[c], contiguous);
    return skipping(frames, starts.skips[c])[Symbol.asyncIterator]();
  });
  let count = starts.count;
  /** How many tables the key held when it was sealed, once the follower has seen the seal. */
  let sealedTables: number | undefined;
  try {
    for (;;) {
      const parts: Table[] = [];
      for (let c = 0; c < columnsFrames.length; c++) {
        const next = await columnsFrames[c].next();
        if (!next.done) {
          parts.push(next.value);
          continue;
        }
        // A column that ended sealed was sealed with the others, after the same append: the key ends here,
        // and the columns already taken of a table past the seal (or cut short before it) are dropped.
        // Nothing new for idleTimeoutMs: end without yielding the columns of an append still landing.
        request.endedBy = subRequests[c].endedBy === 'sealed' ? 'sealed' : 'idle';
        return;
      }
      // A column's follower that falls behind may read on past its seal when more was appended after it, so
      // the key's seal is looked at before each table: a table is yielded only if the key was not sealed before
      // it landed (once sealed, how many tables the seal holds is worked out once).
      sealedTables ??= await sealedColumns(layout, id);
      if (sealedTables !== undefined && count >= sealedTables) {
        request.endedBy = 'sealed';
        return;
      }
      count++;
      yield { value: layout.join(wanted, parts, id), position: count };
    }
  } finally {
    await Promise.all(columnsFrames.map((frames) => frames.return?.()));
  }
}

/** The key's schema once its first table lands (the first frame of `.schema`), or undefined if the follower ends first. */
async function awaitSchema(layout: ColumnsLayout, schemaId: KeyId, request: FollowRequest): Promise<Schema | undefined> {
  const sub: FollowRequest = { from: 0, signal: request.signal, idleTimeoutMs: request.idleTimeoutMs, pollMs: request.pollMs };
  const frames = followFrames(layout.inner.followId(schemaId, sub), schemaId, layout.schemaReader, sub, !(layout.inner instanceof WrapperStore));
  for await (const { value } of frames) return value;
  request.endedBy = sub.endedBy;
  return undefined;
}

/** Drops the first `count` frames: those of tables before the position, landing after the follower started. */
async function* skipping(frames: AsyncIterable<Followed<Table>>, count: number): AsyncIterable<Table> {
  let left = count;
  for await (const { value } of frames) {
    if (left > 0) left--;
    else yield value;
  }
}

interface Starts {
  /** The position (tables before the first one yielded). */
  count: number;
  /** Per column, where its follower starts in the sub-key's bytes, */
  offsets: number[];
  /** and how many frames it then drops: those of tables before the position that had not landed yet. */
  skips: number[];
}

/**
 * Where each column's follower starts. From a position n: after the first n
 * frames of each column, or after those it has and dropping the rest as they
 * land. From 'end': after the appends every column holds whole now (a
 * column ahead of the others, mid-append, starts where they end).
 */
async function startsAt(inner: BaseStore<Uint8Array>, ids: readonly KeyId[], from: number | 'end'): Promise<Starts> {
  if (from === 'end') {
    const walked = await Promise.all(ids.map((columnId) => walkFrames(inner, columnId, Infinity)));
    const count = Math.min(...walked.map((w) => w.count));
    // Over a store that is not a bytes store every column is read from its start, dropping what is there now.
    if (!(inner instanceof BytesStore)) return { count, offsets: ids.map(() => 0), skips: ids.map(() => count) };
    const offsets = await Promise.all(ids.map(async (columnId, c) => (walked[c].count === count ? walked[c].offset : (await walkFrames(inner, columnId, count)).offset)));
    return { count, offsets, skips: ids.map(() => 0) };
  }
  const walked = await Promise.all(ids.map((columnId) => walkFrames(inner, columnId, from)));
  return { count: from, offsets: walked.map((w) => w.offset), skips: walked.map((w) => from - w.count) };
}

/**
 * Walks the whole frames at the start of a column's sub-key, up to `limit`
 * of them and within its first `within` bytes, reading their headers: how
 * many there are and where the last ends. Over a store that is not a bytes store (a compressor between), its
 * followers' positions are its own, so the walk starts at 0 and the frames
 * are dropped as they are read instead.
 */
async function walkFrames(inner: BaseStore<Uint8Array>, id: KeyId, limit: number, within = Infinity): Promise<{ count: number; offset: number }> {
  if (!(inner instanceof BytesStore)) {
    if (limit !== Infinity) return { count: 0, offset: 0 };
    const [bytes] = await inner.getIds([id]);
    return { count: countWholeFrames(bytes), offset: 0 };
  }
  const length = Math.min(within, await inner.lengthId(id));
  let offset = 0;
  let count = 0;
  let buffer: Uint8Array = new Uint8Array(0);
  let bufferAt = 0;
  while (count < limit && offset + FRAME_HEADER_BYTES <= length) {
    if (offset + FRAME_HEADER_BYTES > bufferAt + buffer.byteLength) {
      buffer = await inner.readFollowedId(id, offset, Math.min(SCAN_BYTES, length - offset));
      bufferAt = offset;
      if (buffer.byteLength < FRAME_HEADER_BYTES) break;
    }
    const end = offset + FRAME_HEADER_BYTES + payloadLength(buffer, offset - bufferAt);
    if (end > length) break;
    offset = end;
    count++;
  }
  return { count, offset };
}

function countWholeFrames(bytes: Uint8Array): number {
  let offset = 0;
  let count = 0;
  while (offset + FRAME_HEADER_BYTES <= bytes.byteLength) {
    const end = offset + FRAME_HEADER_BYTES + payloadLength(bytes, offset);
    if (end > bytes.byteLength) break;
    offset = end;
    count++;
  }
  return count;
}

/** The payload length in the frame header at `offset`: 8 bytes, little-endian (framing.ts). */
function payloadLength(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  return view.getUint32(0, true) + view.getUint32(4, true) * 0x1_0000_0000;
}

/**
 * Seals an arrowColumns() key: each column's sub-key at its length, then
 * `.schema`, all under the inner store's lock so that no append lands
 * between them. The columns come first: a sealer that dies midway leaves the
 * key unsealed (its `.schema`), and sealing again finishes the job.
 */
export function sealColumns(layout: ColumnsLayout, id: KeyId): Promise<void> {
  return layout.inner.withLock(async () => {
    const schema = await layout.schemaOf(id);
    for (const field of schema?.fields ?? []) await layout.inner.sealId(layout.columnId(id, field.name));
    await layout.inner.sealId(layout.schemaId(id));
  });
}

/** How many tables the key held when it was sealed, or undefined while it is not sealed. */
export async function sealedColumns(layout: ColumnsLayout, id: KeyId): Promise<number | undefined> {
  const sealed = await layout.inner.sealedId(layout.schemaId(id));
  if (sealed === undefined || sealed === 0) return sealed;
  const schema = await layout.schemaOf(id);
  if (schema === undefined || schema.fields.length === 0) return 0;
  const first = layout.columnId(id, schema.fields[0].name);
  const end = await layout.inner.sealedId(first);
  if (end === undefined) return undefined;
  // Frames past the sealed end were appended after the seal: count only those before it.
  return (await walkFrames(layout.inner, first, Infinity, end)).count;
}

/** The refusal of retention: positions here count tables, which neither a consumer record nor a trim of the bytes below knows. */
export function notRetainedColumns(what: string): LaminateError {
  return new LaminateError(
    'ERR_NOT_SUPPORTED',
    `arrowColumns() cannot ${what}: its positions count tables, kept in one sub-key per column. Store follower.position yourself and resume with follow(key, { from: position }); for consumers and trims, follow an arrow() key instead.`,
  );
}
