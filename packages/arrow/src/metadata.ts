/**
 * A verifier for the metadata of Arrow IPC messages (the flatbuffers of
 * Arrow's Message.fbs and Schema.fbs), run before apache-arrow reads them.
 *
 * Why: apache-arrow reads metadata as it is given, and loops over whatever a
 * vector's length says. One flipped bit in a schema message made it build
 * fields until the process ran out of memory. Arrow C++ verifies each
 * message's flatbuffer before use; this does the same for the parts
 * apache-arrow walks: every table, vector and string lies inside the
 * message, and there are no more of them than its bytes can hold.
 */


// Slots (vtable field indices) in Arrow's schema files; a union takes two: its type, then its value.
const MESSAGE = { headerType: 1, header: 2, customMetadata: 4 };
const HEADER_SCHEMA = 1;
const HEADER_DICTIONARY_BATCH = 2;
const HEADER_RECORD_BATCH = 3;
const SCHEMA = { fields: 1, customMetadata: 2, features: 3 };
const FIELD = { name: 0, typeType: 2, type: 3, dictionary: 4, children: 5, customMetadata: 6 };
const KEY_VALUE = { key: 0, value: 1 };
const DICTIONARY_ENCODING = { indexType: 1 };
const RECORD_BATCH = { nodes: 1, buffers: 2, compression: 3, variadicBufferCounts: 4 };
const DICTIONARY_BATCH = { data: 1 };
/** Type union members that hold more than scalars: Timestamp's timezone, Union's type ids. */
const TYPE_TIMESTAMP = 10;
const TYPE_UNION = 14;
/** FieldNode and Buffer are structs of two int64s. */
const STRUCT_16 = 16;

/** A flatbuffer whose every reference is checked to land inside it. */
class Flatbuffer {
  private readonly view: DataView;
  /** Tables visited; a flatbuffer has fewer tables than bytes / 4, so more means shared or looping references. */
  private visits = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private inside(at: number, size: number, what: string): void {
    if (!(at >= 0 && size >= 0 && at + size <= this.bytes.byteLength)) throw new Error(`the Arrow metadata's ${what} lies outside it`);
  }

  /** The table at `at`; throws unless it and its vtable lie inside the buffer. */
  table(at: number, what: string): Table {
    if (++this.visits > this.bytes.byteLength / 4) throw new Error(`the Arrow metadata refers to more tables than it can hold`);
    this.inside(at, 4, what);
    const vtable = at - this.view.getInt32(at, true);
    this.inside(vtable, 4, `${what}'s vtable`);
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2) throw new Error(`the Arrow metadata's ${what} has a damaged vtable`);
    this.inside(vtable, vtableSize, `${what}'s vtable`);
    this.inside(at, tableSize, what);
    return { at, vtable, slots: (vtableSize - 4) / 2, size: tableSize, what };
  }

  /** Where a field's value starts, or undefined when the table does not have it. */
  private field(table: Table, slot: number): number | undefined {
    if (slot >= table.slots) return undefined;
    const offset = this.view.getUint16(table.vtable + 4 + 2 * slot, true);
    if (offset === 0) return undefined;
    if (offset >= table.size) throw new Error(`the Arrow metadata's ${table.what} has a field outside it`);
    return table.at + offset;
  }

  /** The object a reference field points at (references point forward, so they cannot loop). */
  private target(table: Table, slot: number, what: string): number | undefined {
    const at = this.field(table, slot);
    if (at === undefined) return undefined;
    this.inside(at, 4, what);
    const target = at + this.view.getUint32(at, true);
    this.inside(target, 4, what);
    return target;
  }

  u8(table: Table, slot: number): number {
    const at = this.field(table, slot);
    return at === undefined ? 0 : this.bytes[at];
  }

  child(table: Table, slot: number, what: string): Table | undefined {
    const target = this.target(table, slot, what);
    return target === undefined ? undefined : this.table(target, what);
  }

  /** A vector (or string) of `length` elements of `size` bytes; returns where its elements start. */
  vector(table: Table, slot: number, size: number, what: string): { start: number; length: number } | undefined {
    const target = this.target(table, slot, what);
    if (target === undefined) return undefined;
    const length = this.view.getUint32(target, true);
    this.inside(target + 4, length * size, what);
    return { start: target + 4, length };
  }

  /** Each table of a vector of tables. */
  tables(table: Table, slot: number, what: string): Table[] {
    const vector = this.vector(table, slot, 4, what);
    if (!vector) return [];
    return Array.from({ length: vector.length }, (_, i) => {
      const at = vector.start + 4 * i;
      return this.table(at + this.view.getUint32(at, true), what);
    });
  }

  root(): Table {
    this.inside(0, 4, 'root');
    return this.table(this.view.getUint32(0, true), 'message');
  }
}

interface Table {
  at: number;
  vtable: number;
  slots: number;
  size: number;
  what: string;
}

/** Throws, saying what is wrong, unless a message's metadata flatbuffer is sound where apache-arrow reads it. */
export function checkMessageMetadata(bytes: Uint8Array): void {
  const fb = new Flatbuffer(bytes);
  const message = fb.root();
  keyValues(fb, message, MESSAGE.customMetadata);
  const type = fb.u8(message, MESSAGE.headerType);
  const header = fb.child(message, MESSAGE.header, 'message header');
  if (!header) return;
  if (type === HEADER_SCHEMA) schema(fb, header);
  else if (type === HEADER_RECORD_BATCH) recordBatch(fb, header);
  else if (type === HEADER_DICTIONARY_BATCH) {
    const data = fb.child(header, DICTIONARY_BATCH.data, 'dictionary batch');
    if (data) recordBatch(fb, data);
  }
}

function keyValues(fb: Flatbuffer, table: Table, slot: number): void {
  for (const pair of fb.tables(table, slot, 'custom metadata')) {
    fb.vector(pair, KEY_VALUE.key, 1, 'metadata key');
    fb.vector(pair, KEY_VALUE.value, 1, 'metadata value');
  }
}

function schema(fb: Flatbuffer, table: Table): void {
  keyValues(fb, table, SCHEMA.customMetadata);
  fb.vector(table, SCHEMA.features, 8, 'schema features');
  for (const f of fb.tables(table, SCHEMA.fields, 'field')) field(fb, f, 0);
}

function field(fb: Flatbuffer, table: Table, depth: number): void {
  if (depth > 64) throw new Error('the Arrow metadata nests fields more than 64 deep');
  fb.vector(table, FIELD.name, 1, 'field name');
  keyValues(fb, table, FIELD.customMetadata);
  const kind = fb.u8(table, FIELD.typeType);
  const type = fb.child(table, FIELD.type, 'field type');
  if (type && kind === TYPE_TIMESTAMP) fb.vector(type, 1, 1, 'timestamp time zone');
  if (type && kind === TYPE_UNION) fb.vector(type, 1, 4, 'union type ids');
  const dictionary = fb.child(table, FIELD.dictionary, 'dictionary encoding');
  if (dictionary) fb.child(dictionary, DICTIONARY_ENCODING.indexType, 'dictionary index type');
  for (const c of fb.tables(table, FIELD.children, 'child field')) field(fb, c, depth + 1);
}

function recordBatch(fb: Flatbuffer, table: Table): void {
  fb.vector(table, RECORD_BATCH.nodes, STRUCT_16, 'field nodes');
  fb.vector(table, RECORD_BATCH.buffers, STRUCT_16, 'buffers');
  fb.vector(table, RECORD_BATCH.variadicBufferCounts, 8, 'variadic buffer counts');
  fb.child(table, RECORD_BATCH.compression, 'body compression');
}
