/**
 * Checks that what an Arrow IPC stream decodes to is what its metadata
 * announces, so a damaged stream is ERR_CORRUPT_FRAME instead of a table
 * with other values (or one that exhausts memory when read: apache-arrow
 * trusts the lengths it is given).
 *
 * What the format lets a reader check, and this does: the stream's messages
 * fill the frame exactly and end with the end-of-stream marker; their
 * metadata is a sound flatbuffer (metadata.ts); each column's
 * buffers are long enough for its rows; validity bitmaps hold as many nulls as
 * the metadata counts; offsets of strings, binaries and lists rise and stay in
 * their data; dictionary indices and union type ids point at something.
 *
 * What it cannot: a changed bit inside a number, inside a string's bytes, or
 * in a boolean or a validity bit that swaps with another. Only a checksum
 * sees those: stack checksum() (or zstd/lz4, which carry one) under arrow().
 */
import { type Data, type DataType, Message, type Table, Type } from 'apache-arrow';
import { checkMessageMetadata } from './metadata.js';

/** Throws, saying what is wrong, unless `payload` holds exactly one Arrow IPC stream, end-of-stream marker included. */
export function checkStream(payload: Uint8Array): void {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const size = payload.byteLength;
  let at = 0;
  for (;;) {
    if (at + 4 > size) throw new Error(`the Arrow IPC stream stops at byte ${at} without its end-of-stream marker`);
    let length = view.getInt32(at, true);
    at += 4;
    // A continuation marker (-1) comes before the length since Arrow 0.15; older streams have the length alone.
    if (length === -1) {
      if (at + 4 > size) throw new Error(`the Arrow IPC stream stops at byte ${at} without its end-of-stream marker`);
      length = view.getInt32(at, true);
      at += 4;
    }
    if (length === 0) break;
    if (length < 0 || at + length > size) throw new Error(`the message at byte ${at - 4} of the Arrow IPC stream announces ${length} bytes of metadata, more than the stream holds`);
    const metadata = payload.subarray(at, at + length);
    checkMessageMetadata(metadata);
    const body = Message.decode(metadata).bodyLength;
    at += length;
    if (!(body >= 0) || at + body > size) throw new Error(`the message before byte ${at} of the Arrow IPC stream announces a ${body}-byte body, more than the stream holds`);
    at += body;
  }
  if (at !== size) throw new Error(`the Arrow IPC stream ends at byte ${at}, and ${size - at} more bytes follow it in the frame`);
}

/** Throws, saying which column and what, unless every batch's buffers agree with its metadata. */
export function checkColumns(table: Table): void {
  const seen = new Set<Data>();
  table.batches.forEach((batch, b) => {
    batch.data.children.forEach((column, c) => {
      const where = `column "${table.schema.fields[c]?.name ?? c}" of batch ${b + 1}`;
      if (column.length !== batch.numRows) throw new Error(`${where} has ${column.length} rows, the batch ${batch.numRows}`);
      checkData(column, where, seen);
    });
  });
}

function checkData(data: Data, where: string, seen: Set<Data>): void {
  const type: DataType = data.type;
  const end = data.offset + data.length;
  if (type.typeId === Type.Null) return;
  if (type.typeId !== Type.Union) checkValidity(data, end, where);
  switch (type.typeId) {
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary:
      return checkOffsets(data, end, data.values?.length ?? 0, where);
    case Type.List:
    case Type.LargeList:
    case Type.Map:
      checkOffsets(data, end, data.children[0]?.length ?? 0, where);
      return checkData(data.children[0], `${where} (its values)`, seen);
    case Type.FixedSizeList: {
      const child = data.children[0];
      const size = (type as unknown as { listSize: number }).listSize;
      if (!child || child.length < end * size) throw new Error(`${where} holds ${child?.length ?? 0} list items, fewer than ${end} lists of ${size}`);
      return checkData(child, `${where} (its values)`, seen);
    }
    case Type.Struct:
      for (const [i, child] of data.children.entries()) {
        if (child.length < end) throw new Error(`${where}: field ${i + 1} has ${child.length} rows, fewer than ${end}`);
        checkData(child, `${where}, field ${i + 1}`, seen);
      }
      return;
    case Type.Union:
      return checkUnion(data, end, where, seen);
    case Type.Dictionary:
      return checkDictionary(data, end, where, seen);
    case Type.Bool:
      return need(data.values?.byteLength ?? 0, Math.ceil(end / 8), 'bytes of booleans', where);
    case Type.Utf8View:
    case Type.BinaryView:
      return need(data.values?.byteLength ?? 0, end * 16, 'bytes of views', where);
    default:
      // Fixed-width values: `stride` elements of the column's typed array per row.
      if (data.values) need(data.values.length, end * data.stride, 'values', where);
  }
}

function need(have: number, wanted: number, what: string, where: string): void {
  if (have < wanted) throw new Error(`${where} holds ${have} ${what}, fewer than its rows need (${wanted})`);
}

/** The bitmap holds the rows, and as many nulls (zero bits) as the metadata counts. */
function checkValidity(data: Data, end: number, where: string): void {
  const bitmap = data.nullBitmap;
  const nulls = data.nullCount;
  if (!bitmap || bitmap.byteLength === 0) {
    if (nulls > 0) throw new Error(`${where} counts ${nulls} nulls but has no validity bitmap`);
    return;
  }
  need(bitmap.byteLength, Math.ceil(end / 8), 'bytes of validity bitmap', where);
  let valid = 0;
  for (let i = data.offset; i < end; i++) valid += (bitmap[i >> 3] >> (i & 7)) & 1;
  if (data.length - valid !== nulls) throw new Error(`${where} counts ${nulls} nulls, but its validity bitmap has ${data.length - valid}`);
}

/** Offsets from `offset` to `end` (one more than the rows) rise, from 0 or more, up to at most `limit`. */
function checkOffsets(data: Data, end: number, limit: number, where: string): void {
  const offsets = data.valueOffsets as ArrayLike<number | bigint> | undefined;
  if (!offsets || offsets.length < end + 1) throw new Error(`${where} holds ${offsets?.length ?? 0} offsets, fewer than its rows need (${end + 1})`);
  let previous = Number(offsets[data.offset]);
  if (previous < 0) throw new Error(`${where} has a negative offset`);
  for (let i = data.offset + 1; i <= end; i++) {
    const next = Number(offsets[i]);
    if (next < previous) throw new Error(`${where} has offsets that go down at row ${i - 1}`);
    previous = next;
  }
  if (previous > limit) throw new Error(`${where} has offsets up to ${previous}, past its ${limit} values`);
}

function checkDictionary(data: Data, end: number, where: string, seen: Set<Data>): void {
  const indices = data.values as ArrayLike<number | bigint> | undefined;
  need(indices?.length ?? 0, end, 'dictionary indices', where);
  const dictionary = data.dictionary;
  const size = dictionary?.length ?? 0;
  for (let i = data.offset; i < end; i++) {
    if (!data.getValid(i - data.offset)) continue;
    const index = Number(indices![i]);
    if (index < 0 || index >= size) throw new Error(`${where} has dictionary index ${index} at row ${i - data.offset}, outside its ${size}-entry dictionary`);
  }
  // A dictionary is shared by the batches that use it: check it once.
  for (const part of dictionary?.data ?? []) {
    if (seen.has(part)) continue;
    seen.add(part);
    checkData(part, `${where} (its dictionary)`, seen);
  }
}

function checkUnion(data: Data, end: number, where: string, seen: Set<Data>): void {
  const type = data.type as unknown as { typeIds: number[]; mode: number };
  const ids = data.typeIds as Int8Array | undefined;
  need(ids?.length ?? 0, end, 'union type ids', where);
  const dense = data.valueOffsets as Int32Array | undefined;
  for (let i = data.offset; i < end; i++) {
    const child = type.typeIds.indexOf(ids![i]);
    if (child < 0) throw new Error(`${where} has union type id ${ids![i]} at row ${i - data.offset}, not one of its types`);
    const at = dense && dense.length > 0 ? dense[i] : i;
    if (at < 0 || at >= data.children[child].length) throw new Error(`${where} points past its union member ${child + 1} at row ${i - data.offset}`);
  }
  data.children.forEach((child, i) => checkData(child, `${where}, union member ${i + 1}`, seen));
}
