/**
 * What the two Arrow layers share: telling tables apart from other values,
 * comparing schemas the way a user means it, and joining decoded batches.
 */
import { LaminateError } from '@laminate/core';
import { type KeyId, wrongValue } from '@laminate/core/layer';
import { AsyncByteQueue, DataType, Field, RecordBatch, RecordBatchReader, RecordBatchStreamWriter, Schema, Table, tableFromIPC } from 'apache-arrow';
import { checkColumns, checkStream } from './validate.js';

/** A Table or a RecordBatch (of this or another copy of apache-arrow). */
export type TableLike = Table | RecordBatch;

/** The empty value: no schema, no rows. */
export function emptyTable(): Table {
  return new Table();
}

export function checkTable(layer: string, value: unknown, id: KeyId): asserts value is TableLike {
  if (!Table.isTable(value) && !RecordBatch.isRecordBatch(value)) throw wrongValue(layer, 'apache-arrow Tables or RecordBatches', value, id);
}

export function asTable(value: TableLike): Table {
  return Table.isTable(value) ? value : new Table(value as RecordBatch);
}

/** A table with no columns: appending it adds nothing. */
export function isBlank(table: Table): boolean {
  return table.schema.fields.length === 0 && table.numRows === 0;
}

/**
 * A type's identity as text, for schema checks; the one place laminate names
 * Arrow types. Dictionary ids are left out: they are numbers apache-arrow
 * hands out per process, so two tables built apart carry different ids for
 * the same column type.
 *
 * By default the text also names each child field and whether it may be
 * null, and a dictionary's ordering: arrow() joins a key's tables under the
 * first one's schema, so they must agree on all of it. `{ children: false }`
 * gives apache-arrow's own text (`FixedSizeList[4]<Float32>`), which names
 * the values a column holds whatever its child fields are called: the pool
 * compares episodes by it, stores it in its schema and builds types back
 * from it, so that text must not change.
 */
export function typeKey(type: DataType, opts: { children?: boolean } = {}): string {
  if (opts.children === false) return String(type);
  if (DataType.isDictionary(type)) return `Dictionary<${typeKey(type.indices)}, ${typeKey(type.dictionary)}${type.isOrdered ? ', ordered' : ''}>`;
  const children = type.children as Field[] | undefined;
  if (!children || children.length === 0) return String(type);
  // A fixed-size list's size is part of its type: [3] and [4] lists do not join.
  const size = DataType.isFixedSizeList(type) ? `[${type.listSize}]` : '';
  return `${type.constructor.name}${size}<${children.map((c) => `${c.name}${c.nullable ? '?' : ''}: ${typeKey(c.type)}`).join(', ')}>`;
}

function fieldKey(field: Field): string {
  return `${typeKey(field.type)}${field.nullable ? '' : ' not null'}`;
}

/** The differences between a key's schema and a new one, one phrase per field; empty when they match. */
export function schemaDiff(stored: Schema, incoming: Schema): string[] {
  const out: string[] = [];
  const theirs = new Map(incoming.fields.map((f) => [f.name, f]));
  const ours = new Map(stored.fields.map((f) => [f.name, f]));
  for (const field of stored.fields) {
    const other = theirs.get(field.name);
    if (!other) out.push(`"${field.name}" is missing (the key has it as ${fieldKey(field)})`);
    else if (fieldKey(field) !== fieldKey(other)) out.push(`"${field.name}" is ${fieldKey(other)} here but ${fieldKey(field)} in the key`);
  }
  for (const field of incoming.fields) if (!ours.has(field.name)) out.push(`"${field.name}" (${fieldKey(field)}) is not in the key's schema`);
  if (out.length === 0) {
    const a = stored.fields.map((f) => f.name).join(', ');
    const b = incoming.fields.map((f) => f.name).join(', ');
    if (a !== b) out.push(`the columns come in another order (${b}; the key has ${a})`);
  }
  return out;
}

export function schemaError(layer: string, key: string, diff: string[], what = 'the table appended'): LaminateError {
  return new LaminateError(
    'ERR_SCHEMA',
    `${layer}(): ${what} for key ${key} has a schema that differs from the key's first one: ${diff.join('; ')}. Nothing from this call was stored; cast the table to the key's schema, or write it under another key.`,
    { key },
  );
}

/** Keeps what apache-arrow's writer writes: views of the table's own buffers and the small message parts. */
class Pieces extends AsyncByteQueue {
  readonly pieces: Uint8Array[] = [];
  size = 0;
  override write(value: Uint8Array): void {
    if (value.byteLength === 0) return;
    this.pieces.push(value);
    this.size += value.byteLength;
  }
}

/**
 * One appended table as a laminate frame holding an Arrow IPC stream (schema,
 * dictionaries, record batches, end-of-stream), built with one copy of the
 * column data: tableToIPC would join the writer's pieces and frame() would
 * copy the result again.
 */
export function toFrame(table: Table): Uint8Array {
  const sink = new Pieces();
  const writer = new RecordBatchStreamWriter();
  writer.reset(sink);
  writer.writeAll(table);
  const out = Buffer.allocUnsafe(8 + sink.size);
  out.writeUInt32LE(sink.size % 0x1_0000_0000, 0);
  out.writeUInt32LE(Math.floor(sink.size / 0x1_0000_0000), 4);
  let at = 8;
  for (const piece of sink.pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}

/** The payload of toFrame(table): one IPC stream. */
export function toStream(table: Table): Uint8Array {
  return toFrame(table).subarray(8);
}

/** The table in one IPC stream; throws, saying what is wrong, when the stream is damaged where the format can tell (validate.ts). */
export function fromStream(payload: Uint8Array): Table {
  checkStream(payload);
  const table = tableFromIPC(payload);
  checkColumns(table);
  return table;
}

/** Only the schema message at the start of an IPC stream. */
export function schemaOfStream(payload: Uint8Array): Schema {
  const reader = RecordBatchReader.from(payload);
  reader.open();
  return reader.schema;
}

/**
 * Joins decoded tables (all with the key's schema) into one, sharing their
 * buffers. Each batch is re-labelled with the first table's schema: apache-arrow
 * compares dictionary ids, which differ between streams written apart.
 */
export function joinTables(tables: Table[]): Table {
  if (tables.length === 1) return tables[0];
  if (tables.length === 0) return emptyTable();
  const schema = tables[0].schema;
  const batches: RecordBatch[] = [];
  for (const table of tables) {
    for (const batch of table.batches) batches.push(batch.schema === schema ? batch : new RecordBatch(schema, batch.data));
  }
  return new Table(schema, batches);
}
