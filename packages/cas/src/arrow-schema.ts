import { LaminateError } from '@laminate/core';
import type { TableSchema } from './records.js';

/**
 * The schema of an Arrow IPC stream or file, read from its first message
 * without apache-arrow: the catalog records a table's fields when it is given
 * the table's bytes. Arrow's metadata is a FlatBuffer: a table is an offset to
 * its vtable (field offsets) and its fields; the Schema message lists Fields
 * of { name, nullable, type }. Scalar types are named as apache-arrow prints
 * them (Int32, Float64, Utf8, Timestamp<MILLISECOND>); nested and rarer
 * types by their kind (List, Struct, Decimal, …).
 */
const FILE_MAGIC = 'ARROW1';
const SCHEMA_HEADER = 1;

const TYPE_KINDS = ['NONE', 'Null', 'Int', 'Float', 'Binary', 'Utf8', 'Bool', 'Decimal', 'Date', 'Time', 'Timestamp', 'Interval', 'List', 'Struct', 'Union', 'FixedSizeBinary', 'FixedSizeList', 'Map', 'Duration', 'LargeBinary', 'LargeUtf8', 'LargeList'];
const TIME_UNITS = ['SECOND', 'MILLISECOND', 'MICROSECOND', 'NANOSECOND'];
const FLOATS = ['Float16', 'Float32', 'Float64'];

/** The schema of Arrow IPC bytes, or ERR_SCHEMA saying they are not Arrow. */
export function arrowSchema(bytes: Uint8Array): TableSchema {
  try {
    return readSchema(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    if (error instanceof LaminateError) throw error;
    throw notArrow(`its metadata does not read (${(error as Error).message})`);
  }
}

function readSchema(buf: Buffer): TableSchema {
  const fileFormat = buf.byteLength >= 18 && buf.toString('latin1', 0, 6) === FILE_MAGIC && buf.toString('latin1', buf.byteLength - 6) === FILE_MAGIC;
  let fb: FlatBuffer;
  let schema: number | undefined;
  if (fileFormat) {
    // The file format's footer holds the schema (field 1 of Footer); writers need not repeat it up front.
    const footerLength = buf.readInt32LE(buf.byteLength - 10);
    const end = buf.byteLength - 10;
    if (footerLength <= 0 || footerLength > end - 8) throw notArrow('their footer does not read');
    fb = new FlatBuffer(buf.subarray(end - footerLength, end));
    schema = fb.table(fb.root(), 1);
  } else {
    let at = 0;
    let length = buf.readInt32LE(at);
    if (length === -1) {
      at += 4;
      length = buf.readInt32LE(at);
    }
    at += 4;
    if (length <= 0 || at + length > buf.byteLength) throw notArrow('they do not start with an Arrow IPC message');
    fb = new FlatBuffer(buf.subarray(at, at + length));
    const message = fb.root();
    if (fb.scalar(message, 1, 'u8') !== SCHEMA_HEADER) throw notArrow('their first message is not a schema');
    schema = fb.table(message, 2);
  }
  if (schema === undefined) throw notArrow('they hold no schema');
  const fields = fb.vector(schema, 1).map((field) => {
    const name = fb.string(field, 0) ?? '';
    const nullable = fb.scalar(field, 1, 'u8') === 1;
    return { name, type: typeName(fb, field), nullable };
  });
  if (fields.length === 0) throw notArrow('their schema has no fields');
  return { fields };
}

function typeName(fb: FlatBuffer, field: number): string {
  const dictionary = fb.table(field, 4);
  const kind = TYPE_KINDS[fb.scalar(field, 2, 'u8')] ?? 'Unknown';
  const type = fb.table(field, 3);
  const value = valueTypeName(fb, kind, type);
  if (dictionary === undefined) return value;
  // DictionaryEncoding: 1 indexType (an Int table); int32 when absent.
  const index = fb.table(dictionary, 1);
  return `Dictionary<${index === undefined ? 'Int32' : intName(fb, index)}, ${value}>`;
}

function valueTypeName(fb: FlatBuffer, kind: string, type: number | undefined): string {
  if (type === undefined) return kind;
  switch (kind) {
    case 'Int':
      return intName(fb, type);
    case 'Float':
      return FLOATS[fb.scalar(type, 0, 'i16')] ?? 'Float';
    case 'Timestamp': {
      const unit = TIME_UNITS[fb.scalar(type, 0, 'i16')];
      const zone = fb.string(type, 1);
      return `Timestamp<${unit}${zone ? `, ${zone}` : ''}>`;
    }
    case 'Date':
      return fb.scalar(type, 0, 'i16') === 0 ? 'Date32<DAY>' : 'Date64<MILLISECOND>';
    default:
      return kind;
  }
}

function intName(fb: FlatBuffer, type: number): string {
  const bits = fb.scalar(type, 0, 'i32');
  const signed = fb.scalar(type, 1, 'u8') === 1;
  return `${signed ? 'Int' : 'Uint'}${bits}`;
}

/** Just enough of a FlatBuffer reader: tables, scalars with their defaults of 0, strings, vectors of tables. */
class FlatBuffer {
  constructor(private readonly buf: Buffer) {}

  root(): number {
    return this.buf.readUInt32LE(0);
  }

  /** Where field `index` of the table at `table` lies, or 0 when it is absent. */
  private field(table: number, index: number): number {
    const vtable = table - this.buf.readInt32LE(table);
    const vtableLength = this.buf.readUInt16LE(vtable);
    const slot = 4 + index * 2;
    if (slot >= vtableLength) return 0;
    const offset = this.buf.readUInt16LE(vtable + slot);
    return offset === 0 ? 0 : table + offset;
  }

  scalar(table: number, index: number, type: 'u8' | 'i16' | 'i32'): number {
    const at = this.field(table, index);
    if (at === 0) return 0;
    return type === 'u8' ? this.buf.readUInt8(at) : type === 'i16' ? this.buf.readInt16LE(at) : this.buf.readInt32LE(at);
  }

  table(table: number, index: number): number | undefined {
    const at = this.field(table, index);
    return at === 0 ? undefined : at + this.buf.readUInt32LE(at);
  }

  string(table: number, index: number): string | undefined {
    const at = this.field(table, index);
    if (at === 0) return undefined;
    const start = at + this.buf.readUInt32LE(at);
    return this.buf.toString('utf8', start + 4, start + 4 + this.buf.readUInt32LE(start));
  }

  vector(table: number, index: number): number[] {
    const at = this.field(table, index);
    if (at === 0) return [];
    const start = at + this.buf.readUInt32LE(at);
    const count = this.buf.readUInt32LE(start);
    // A damaged count would otherwise ask for billions of elements.
    if (start + 4 + count * 4 > this.buf.byteLength) throw new RangeError('a vector runs past the metadata');
    return Array.from({ length: count }, (_, i) => {
      const element = start + 4 + i * 4;
      return element + this.buf.readUInt32LE(element);
    });
  }
}

function notArrow(why: string): LaminateError {
  return new LaminateError('ERR_SCHEMA', `registerContent(): a table's bytes must be Arrow IPC (a stream or a file) when info.schema is not given, and ${why}. Pass info.schema, or the table's IPC bytes.`);
}
