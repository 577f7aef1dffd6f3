/**
 * Arrow helpers every backend shares: turning what a caller writes (Arrow
 * Tables, RecordBatches or arrays of plain records) into Tables whose fields
 * are all nullable, reading a column's values as JS values, and gathering
 * chosen rows into a new Table.
 *
 * Why every stored field is nullable: apache-arrow marks a vector nullable
 * only when it happens to hold a null, and the Arrow layers refuse a later
 * append whose nullability differs. Storing every field as nullable keeps two
 * writes of the same columns compatible whatever their values.
 */
import { typeError } from '@laminate/core/layer';
import { Bool, type DataType, Field, Float64, makeData, makeVector, RecordBatch, Schema, Struct, Table, Type, Utf8, type Vector, vectorFromArray } from 'apache-arrow';

/** What `write` takes: an Arrow Table or RecordBatch, or an array of plain records. */
export type FrameInput = Table | RecordBatch | readonly object[];

/** A Table of `columns` (name → vector of one chunk each), every field nullable. */
export function tableOf(columns: readonly (readonly [string, Vector])[]): Table {
  const fields = columns.map(([name, vector]) => new Field(name, vector.type, true));
  const schema = new Schema(fields);
  const length = columns.length === 0 ? 0 : columns[0][1].length;
  const children = columns.map(([, vector]) => single(vector).data[0]);
  return new Table(schema, [new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }))]);
}

/** One vector of one chunk (a Table's column may span batches). */
function single(vector: Vector): Vector {
  if (vector.data.length === 1) return vector;
  return vectorFromArray(valuesOf(vector), vector.type);
}

/** A table with the same columns and values whose fields are all nullable. */
export function nullable(table: Table): Table {
  if (table.schema.fields.every((f) => f.nullable)) return table;
  const fields = table.schema.fields.map((f) => new Field(f.name, f.type, true, f.metadata));
  const schema = new Schema(fields, table.schema.metadata);
  const batches = table.batches.map((b) => new RecordBatch(schema, makeData({ type: new Struct(fields), length: b.numRows, nullCount: 0, children: b.data.children })));
  return new Table(schema, batches);
}

/** The caller's data as a Table (nullable fields); `what` names the call in errors. */
export function toTable(data: FrameInput, what: string): Table {
  if (Table.isTable(data)) return nullable(data);
  if (RecordBatch.isRecordBatch(data)) return nullable(new Table(data));
  if (!Array.isArray(data)) throw typeError('ERR_VALUE_TYPE', `${what} takes an apache-arrow Table, a RecordBatch or an array of records (plain objects).`);
  return fromRecords(data as readonly Record<string, unknown>[], what);
}

/** Records → a Table: numbers become Float64, booleans Bool, strings Utf8, Dates epoch-ms Float64; null and undefined are nulls. */
export function fromRecords(records: readonly Record<string, unknown>[], what: string): Table {
  const names: string[] = [];
  const seen = new Set<string>();
  records.forEach((record, row) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw typeError('ERR_VALUE_TYPE', `${what}: record ${row} is not a plain object; pass an array of { column: value } objects.`);
    }
    for (const name of Object.keys(record)) {
      if (!seen.has(name)) {
        seen.add(name);
        names.push(name);
      }
    }
  });
  return tableOf(names.map((name) => [name, vectorOfValues(records.map((r) => r[name]), name, what)] as const));
}

/** A vector of JS values, its type read from the values (ERR_VALUE_TYPE when they mix kinds). */
export function vectorOfValues(values: readonly unknown[], name: string, what: string): Vector {
  let kind: 'number' | 'boolean' | 'string' | undefined;
  const out: unknown[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let value = values[i];
    if (value === undefined) value = null;
    if (value instanceof Date) value = value.getTime();
    if (typeof value === 'bigint') value = Number(value);
    out[i] = value;
    if (value === null) continue;
    const type = typeof value;
    if (type !== 'number' && type !== 'boolean' && type !== 'string') {
      throw typeError('ERR_VALUE_TYPE', `${what}: column "${name}" holds a ${type} at row ${i}; columns hold numbers, booleans, strings, Dates or null.`);
    }
    if (kind === undefined) kind = type as 'number' | 'boolean' | 'string';
    else if (kind !== type) {
      throw typeError('ERR_VALUE_TYPE', `${what}: column "${name}" mixes ${kind}s and ${type}s (row ${i}); give each column one kind of value.`);
    }
  }
  const type: DataType = kind === 'boolean' ? new Bool() : kind === 'string' ? new Utf8() : new Float64();
  return vectorFromArray(out, type);
}

/** A vector's values as JS values: Int64 as numbers, nulls as null. */
export function valuesOf(vector: Vector): unknown[] {
  const out: unknown[] = new Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = jsValue(vector.get(i));
  return out;
}

/** An Arrow cell as the value expressions see: a bigint becomes a number, undefined null. */
export function jsValue(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  return value;
}

/** Readers of a table's columns, by name, for the expression evaluator. */
export function columnReaders(table: Table): Map<string, (row: number) => unknown> {
  const readers = new Map<string, (row: number) => unknown>();
  for (const field of table.schema.fields) {
    const vector = table.getChild(field.name)!;
    readers.set(field.name, readerOf(vector));
  }
  return readers;
}

/**
 * A fast reader where one exists: numeric columns without nulls read from one
 * typed array; Utf8 columns slice their value bytes with Buffer's native
 * decoder (apache-arrow's get() decodes each string through a TextDecoder,
 * several times slower); everything else goes through get().
 */
function readerOf(vector: Vector): (row: number) => unknown {
  const typeId = vector.type.typeId;
  // Float (3) and the 8/16/32-bit Ints read straight from one typed array when nothing is null.
  if (vector.nullCount === 0 && (typeId === 3 || (typeId === 2 && (vector.type as unknown as { bitWidth: number }).bitWidth < 64))) {
    const array = vector.toArray() as ArrayLike<number>;
    return (row) => array[row];
  }
  if (typeId === Type.Utf8) return stringReader(vector, 'utf8') as (row: number) => unknown;
  return (row) => jsValue(vector.get(row));
}

/**
 * A Utf8 column's strings by row, decoded with `encoding`. 'latin1' maps each
 * byte to one character: not the text, but a distinct string per distinct
 * value, cheaper to make, for use as a Map key.
 */
export function stringReader(vector: Vector, encoding: 'utf8' | 'latin1'): (row: number) => string | null {
  const chunks = vector.data.map((data) => ({
    length: data.length,
    offsets: data.valueOffsets as Int32Array,
    bytes: Buffer.from(data.values.buffer, data.values.byteOffset, data.values.byteLength),
    valid: data.nullCount > 0 ? data.nullBitmap : undefined,
    offset: data.offset,
  }));
  const read = (chunk: (typeof chunks)[number], i: number): string | null => {
    const bit = chunk.offset + i;
    if (chunk.valid && (chunk.valid[bit >> 3] & (1 << (bit & 7))) === 0) return null;
    return chunk.bytes.toString(encoding, chunk.offsets[i], chunk.offsets[i + 1]);
  };
  if (chunks.length === 1) return (row) => read(chunks[0], row);
  const starts = new Float64Array(chunks.length);
  for (let c = 1; c < chunks.length; c++) starts[c] = starts[c - 1] + chunks[c - 1].length;
  return (row) => {
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= row) lo = mid;
      else hi = mid - 1;
    }
    return read(chunks[lo], row - starts[lo]);
  };
}

/** The rows `rows` of `table` (in that order), in a new Table with the same schema. */
export function takeRows(table: Table, rows: ArrayLike<number>): Table {
  return tableOf(table.schema.fields.map((field) => [field.name, takeVector(table.getChild(field.name)!, rows)] as const));
}

/** The values at `rows` of a vector: typed arrays gathered directly where the column is numeric and has no nulls. */
function takeVector(vector: Vector, rows: ArrayLike<number>): Vector {
  const type = vector.type;
  if (vector.nullCount === 0 && (type.typeId === Type.Float || type.typeId === Type.Int)) {
    const source = vector.toArray() as Float64Array;
    const Out = source.constructor as new (n: number) => Float64Array;
    const out = new Out(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = source[rows[i]];
    return makeVector(makeData({ type, length: rows.length, nullCount: 0, data: out } as never));
  }
  const read = readerOf(vector);
  const values: unknown[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const value = read(rows[i]);
    values[i] = typeof value === 'number' && isBigType(type) ? BigInt(Math.trunc(value)) : value;
  }
  return vectorFromArray(values, type);
}

function isBigType(type: DataType): boolean {
  return type.typeId === 2 && (type as unknown as { bitWidth: number }).bitWidth === 64;
}

/** A Float64 vector of numbers (NaN where a value is missing). */
export function floats(values: ArrayLike<number>): Vector<Float64> {
  return vectorFromArray(values instanceof Float64Array ? values : Float64Array.from(values));
}

/** The table's rows cut into Tables of at most `rows` rows each, for `iterator: true` reads. */
export async function* chunked(table: Table, rows: number): AsyncIterable<Table> {
  if (table.numRows === 0) {
    yield table;
    return;
  }
  for (let at = 0; at < table.numRows; at += rows) yield table.slice(at, Math.min(table.numRows, at + rows));
}

/** A JSON-friendly description of a table's columns, for execute('infer'). */
export function describeSchema(schema: Schema): { name: string; type: string }[] {
  return schema.fields.map((f) => ({ name: f.name, type: String(f.type) }));
}
