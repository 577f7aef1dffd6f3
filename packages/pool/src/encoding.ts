/**
 * How the pool reads and writes through a store stack. An episode is stored
 * as exactly the frame arrow() would append (an Arrow IPC stream), passed
 * through the same compression layers, and written to the bytes store at the
 * bottom of the stack; the pool does the encoding itself so that it knows
 * each frame's size there, and with it where the episode lies in its segment
 * key, which it then reads back alone with readRanges().
 */
import { ArrowStore } from '@laminate/arrow';
import { BaseStore, BufferStore, type Codec, EncodeStore, LaminateError } from '@laminate/core';
import { frame, splitFrames, typeError } from '@laminate/core/layer';
import { AsyncByteQueue, type DataType, FixedSizeList, MessageHeader, type RecordBatch, RecordBatchStreamWriter, type Schema, type Table, Type, tableFromIPC } from 'apache-arrow';
import { Message as FbMessage } from 'apache-arrow/fb/message';
import { RecordBatch as FbRecordBatch } from 'apache-arrow/fb/record-batch';
import { ByteBuffer } from 'flatbuffers';

/** What the pool learns about a stack once. */
export interface Stack {
  /** The compression layers between arrow() and the bytes store, top first. */
  codecs: Codec<Uint8Array>[];
  /** The store under every encoding layer: where keys hold frames; its lock keeps other processes out (file()'s directory lock, through a buffer() too; a client()'s server lock). */
  bottom: BaseStore<Uint8Array>;
  /** buffer() layers, flushed before an operation counts as durable. */
  buffers: BufferStore[];
  /** The store above the top compression layer, for the index's msgpack layer. */
  inner: BaseStore<Uint8Array>;
}

export function inspectStack(store: BaseStore<unknown>): Stack {
  let s: BaseStore<unknown> = store;
  if (s instanceof ArrowStore) s = s.inner;
  else if (s instanceof EncodeStore && s.codec.name === 'arrow') s = s.inner;
  const inner = s as BaseStore<Uint8Array>;
  const codecs: Codec<Uint8Array>[] = [];
  while (s instanceof EncodeStore) {
    const codec = s.codec as Codec<unknown>;
    if (!(codec.empty() instanceof Uint8Array)) {
      throw typeError('ERR_INVALID_OPTION', `EpisodePool stores Arrow episodes over bytes layers, such as arrow(zstd(buffer(dict(), file(dir)))); its stack has ${codec.name}() under arrow(), which does not store bytes.`);
    }
    codecs.push(codec as Codec<Uint8Array>);
    s = s.inner;
  }
  if (!(s instanceof BaseStore)) throw typeError('ERR_INVALID_OPTION', 'new EpisodePool(store) takes a laminate store such as arrow(zstd(buffer(dict(), file(dir)))).');
  const bottom = s as BaseStore<Uint8Array>;
  const buffers: BufferStore[] = [];
  let below: BaseStore<Uint8Array> = bottom;
  for (;;) {
    if (below instanceof BufferStore) {
      buffers.push(below);
      below = below.slow;
    } else if (below instanceof EncodeStore) below = below.inner;
    else break;
  }
  return { codecs, bottom, buffers, inner };
}

/** Writes what the stack's buffer() layers hold through to the stores under them: a commit counts once they are empty. */
export async function flushBuffers(stack: Stack): Promise<void> {
  for (const b of stack.buffers) await b.flush();
}

/** The bytes one top-level payload becomes at the bottom of the stack: one frame there. */
export function encodeDown(stack: Stack, payload: Uint8Array): Uint8Array {
  let value = frame(payload);
  for (const codec of stack.codecs) value = frame(codec.encode(value));
  return value;
}

/** The one payload of a frame, or ERR_CORRUPT_FRAME. */
function onePayload(value: Uint8Array, what: string): Uint8Array {
  const { payloads, rest } = splitFrames(value, what, false);
  if (payloads.length !== 1 || rest !== value.byteLength) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `The pool's ${what} does not hold one whole frame where its index says (${value.byteLength} bytes); the data was changed outside the pool. Remove the episode, or restore the directory from a copy.`);
  }
  return payloads[0];
}

/** The top-level payload of one bottom frame (the inverse of encodeDown); `payload`: `bytes` is the bottom frame's payload already. */
export function decodeUp(stack: Stack, bytes: Uint8Array, what: string, payload = false): Uint8Array {
  let value = payload ? bytes : onePayload(bytes, what);
  for (let i = stack.codecs.length - 1; i >= 0; i--) value = onePayload(stack.codecs[i].decode(value), what);
  return value;
}

/** Collects what apache-arrow's writer writes, without joining it. */
class Pieces extends AsyncByteQueue {
  pieces: Uint8Array[] = [];
  size = 0;
  override write(value: Uint8Array): void {
    if (value.byteLength === 0) return;
    this.pieces.push(value);
    this.size += value.byteLength;
  }
}

const schemaBytes = new WeakMap<Schema, Uint8Array>();

/** The schema message of `schema` as a stream starts with it, encoded once per schema. */
export function schemaMessage(schema: Schema): Uint8Array {
  let bytes = schemaBytes.get(schema);
  if (!bytes) {
    const sink = new Pieces();
    const writer = new RecordBatchStreamWriter();
    writer.reset(sink as never, schema);
    bytes = Buffer.concat(sink.pieces);
    schemaBytes.set(schema, bytes);
  }
  return bytes;
}

/**
 * apache-arrow's stream writer, writing the schema message from bytes encoded
 * once per schema instead of each time (half the time for an episode of a
 * few hundred steps), and always the pool's schema: the batches were checked
 * against it, but each carries a schema object of its own.
 */
class EpisodeWriter extends RecordBatchStreamWriter {
  constructor(private readonly poolSchema: Schema) {
    super();
  }
  protected override _writeSchema(): this {
    this._write(schemaMessage(this.poolSchema));
    return this;
  }
}

/** One episode's batches as an Arrow IPC stream with the pool's schema (what arrow() stores for one append). */
export function toStream(batches: RecordBatch[], schema: Schema): Uint8Array {
  const sink = new Pieces();
  const writer = new EpisodeWriter(schema);
  writer.reset(sink as never);
  for (const batch of batches) writer.write(batch);
  writer.finish();
  const out = Buffer.allocUnsafe(sink.size);
  let at = 0;
  for (const piece of sink.pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}

/** Where a column's values lie in a record batch body, for the types copied without decoding. */
interface FlatColumn {
  /** Field nodes the column takes in the record batch (2 for a FixedSizeList). */
  nodes: number;
  /** Buffers it takes; its values are the last of them. */
  buffers: number;
  /** Bytes per step. */
  stepBytes: number;
}

/** The plan for copying columns straight out of IPC bodies: fixed-width numbers, and fixed-size lists of them. */
export function flatPlan(schema: Schema): FlatColumn[] | undefined {
  const plan: FlatColumn[] = [];
  for (const field of schema.fields) {
    const type = field.type as DataType;
    const width = numberWidth(type);
    if (width) {
      plan.push({ nodes: 1, buffers: 2, stepBytes: width });
      continue;
    }
    if (type instanceof FixedSizeList) {
      const child = numberWidth(type.children[0].type as DataType);
      if (!child) return undefined;
      plan.push({ nodes: 2, buffers: 3, stepBytes: child * type.listSize });
      continue;
    }
    return undefined;
  }
  return plan;
}

function numberWidth(type: DataType): number | undefined {
  if (type.typeId === Type.Int) return (type as unknown as { bitWidth: number }).bitWidth / 8;
  if (type.typeId === Type.Float) return [2, 4, 8][(type as unknown as { precision: number }).precision];
  return undefined;
}

/**
 * Copies the column values of one episode's IPC stream into `out` (one
 * buffer per column, at byte `at` × stepBytes), without building Arrow
 * objects. Returns the steps copied, or undefined when the stream is not one
 * this fast path reads (another schema message, nulls, compression,
 * dictionaries): the caller then decodes it with apache-arrow.
 */
export function copyColumns(stream: Uint8Array, schema: Schema, plan: FlatColumn[], out: Uint8Array[], at: number): number | undefined {
  const head = schemaMessage(schema);
  if (stream.byteLength < head.byteLength || Buffer.compare(stream.subarray(0, head.byteLength), head) !== 0) return undefined;
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let pos = head.byteLength;
  let steps = 0;
  const fb = new FbRecordBatch();
  for (;;) {
    if (pos + 4 > stream.byteLength) return undefined;
    let length = view.getInt32(pos, true);
    pos += 4;
    if (length === -1) {
      if (pos + 4 > stream.byteLength) return undefined;
      length = view.getInt32(pos, true);
      pos += 4;
    }
    if (length === 0) return steps;
    if (pos + length > stream.byteLength) return undefined;
    const message = FbMessage.getRootAsMessage(new ByteBuffer(stream.subarray(pos, pos + length)));
    pos += length;
    const bodyLength = Number(message.bodyLength());
    if (message.headerType() !== MessageHeader.RecordBatch) return undefined;
    const batch = message.header(fb) as FbRecordBatch | null;
    if (!batch || batch.compression() !== null) return undefined;
    const rows = Number(batch.length());
    const body = pos;
    pos += bodyLength;
    if (pos > stream.byteLength) return undefined;
    let node = 0;
    let buffer = 0;
    for (let c = 0; c < plan.length; c++) {
      const column = plan[c];
      for (let n = 0; n < column.nodes; n++) if (Number(batch.nodes(node + n)!.nullCount()) !== 0) return undefined;
      const values = batch.buffers(buffer + column.buffers - 1)!;
      const offset = body + Number(values.offset());
      const bytes = rows * column.stepBytes;
      if (Number(values.length()) < bytes || offset + bytes > stream.byteLength) return undefined;
      out[c].set(stream.subarray(offset, offset + bytes), (at + steps) * column.stepBytes);
      node += column.nodes;
      buffer += column.buffers;
    }
    steps += rows;
  }
}

/** An episode's stream as a Table (any column types). */
export function fromStream(stream: Uint8Array, what: string): Table {
  try {
    return tableFromIPC(stream);
  } catch (error) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `The pool's ${what} is not an Arrow IPC stream (${(error as Error).message}).`, { cause: error });
  }
}

