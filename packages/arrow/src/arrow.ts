/**
 * arrow(inner): Apache Arrow tables per key.
 *
 * Layout: each appended Table (or RecordBatch) is one laminate frame (8-byte
 * little-endian length, then the payload), and each payload is a complete
 * Arrow IPC *stream*: the schema message, the dictionary batches, the record
 * batches, the end-of-stream marker. A key is therefore a sequence of
 * self-contained IPC streams; any Arrow implementation reads it with a
 * three-line loop (read 8 bytes of length, hand that many bytes to its IPC
 * stream reader, repeat), and pyarrow's `pa.ipc.open_stream(payload)`
 * reads each one.
 *
 * Why whole streams and not "schema in the first frame, batches after": an
 * append then never depends on what the key already holds, so concurrent
 * writers in other processes, buffer() spills, delete + re-append and repair()
 * (which cuts a key back to its last whole frame) can never leave batches
 * without their schema or dictionaries. The price is the schema message
 * repeated per append (a few hundred bytes for a dozen columns), which is
 * small next to any batch worth appending on its own.
 */
import { EncodeStore, type Store, type Codec, type AppendData, type OpOptions, type StoreSpec, LaminateError } from '@laminate/core';
import { type KeyId, registerLayer, readFrames, splitFrames, wrongValue, showKey } from '@laminate/core/layer';
import type { Schema, Table } from 'apache-arrow';
import { asTable, checkTable, emptyTable, fromStream, isBlank, joinTables, schemaDiff, schemaError, schemaOfStream, toFrame, toStream, type TableLike } from './tables.js';

const codec: Codec<Table> = {
  name: 'arrow',
  encode: (value) => toStream(asTable(value)),
  decode: fromStream,
  join: joinTables,
  empty: emptyTable,
  check(value: unknown, id: KeyId): asserts value is Table {
    checkTable('arrow', value, id);
  },
};

export class ArrowStore extends EncodeStore<Table> {
  /**
   * Each key's schema (that of its first frame), learnt by this store when it
   * writes or reads the key, so an append checks schemas without reading.
   * Deletes through this store forget it. A key deleted and rewritten with
   * another schema by another process is only noticed when it is read.
   */
  private readonly schemas = new Map<KeyId, Schema>();

  constructor(inner: Store<Uint8Array>) {
    super(codec, inner);
  }

  protected override isEmpty(value: Table): boolean {
    return value.numRows === 0 && value.numCols === 0;
  }

  /** Takes Tables and RecordBatches; a RecordBatch is stored as a one-batch Table. */
  override append(data: AppendData<TableLike>, opts?: OpOptions): Promise<void> {
    return super.append(data as AppendData<Table>, opts);
  }

  override async appendIds(ids: readonly KeyId[], values: readonly Table[], opts?: OpOptions): Promise<void> {
    const tables = values.map(asTable);
    const keep: number[] = [];
    for (let i = 0; i < tables.length; i++) if (!isBlank(tables[i])) keep.push(i);
    if (keep.length === 0) return;
    await this.inner.withLock(async () => {
      const first = new Map<KeyId, Schema>();
      for (const i of keep) {
        const id = ids[i];
        const known = first.get(id) ?? (await this.schemaOf(id));
        if (known === undefined) {
          first.set(id, tables[i].schema);
          continue;
        }
        first.set(id, known);
        const diff = schemaDiff(known, tables[i].schema);
        if (diff.length > 0) throw schemaError('arrow', showKey(id), diff);
      }
      const frames = keep.map((i) => encodeFrame(tables[i], ids[i]));
      await this.inner.appendIds(
        keep.map((i) => ids[i]),
        frames,
        opts,
      );
      for (const [id, schema] of first) if (!this.schemas.has(id)) this.schemas.set(id, schema);
    });
  }

  /** The key's schema: remembered, or read from the schema message of its first frame. */
  private async schemaOf(id: KeyId): Promise<Schema | undefined> {
    const known = this.schemas.get(id);
    if (known) return known;
    let head: Uint8Array = Buffer.alloc(0);
    for await (const chunk of this.inner.iterId(id)) {
      head = head.byteLength === 0 ? chunk : Buffer.concat([head, chunk]);
      const { payloads } = splitFrames(head, id, false);
      if (payloads.length > 0) {
        const schema = schemaOfStream(payloads[0]);
        this.schemas.set(id, schema);
        return schema;
      }
    }
    // No whole frame: readFrames says what the bytes are (a torn first append, damage, another stack's bytes).
    if (head.byteLength > 0) readFrames(head, id, this.reader);
    return undefined;
  }

  override async getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<Table[]> {
    const stored = await this.inner.getIds(ids);
    return stored.map((bytes, i) => project(this.decodeKey(bytes, ids[i]), opts?.columns, ids[i]));
  }

  private decodeKey(bytes: Uint8Array, id: KeyId): Table {
    if (bytes.byteLength === 0) return emptyTable();
    const tables = readFrames(bytes, id, this.reader);
    const schema = tables[0].schema;
    if (!this.schemas.has(id)) this.schemas.set(id, schema);
    for (const table of tables.slice(1)) {
      const diff = schemaDiff(schema, table.schema);
      if (diff.length > 0) throw schemaError('arrow', showKey(id), diff, 'a frame stored by another writer');
    }
    return joinTables(tables);
  }

  override async deleteIds(ids: readonly KeyId[]): Promise<void> {
    await this.inner.withLock(async () => {
      await super.deleteIds(ids);
      for (const id of ids) this.schemas.delete(id);
    });
  }

  protected override async dropAll(): Promise<void> {
    await super.dropAll();
    this.schemas.clear();
  }

  override describe(): StoreSpec {
    return { type: 'arrow', inner: this.inner.describe() };
  }
}

/** A table as its frame; a table apache-arrow cannot write is the caller's ERR_VALUE_TYPE, before anything is stored. */
export function encodeFrame(table: Table, id: KeyId): Uint8Array {
  try {
    return toFrame(table);
  } catch (error) {
    // wrongValue makes the contract's ERR_VALUE_TYPE (a TypeError naming the key); this message says more.
    const refused = wrongValue('arrow', 'tables', table, id);
    refused.message = `Cannot write the table for key ${showKey(id)} as Arrow IPC (${(error as Error)?.message ?? error}). Nothing from this call was stored.`;
    throw Object.assign(refused, { cause: error });
  }
}

/** `get(key, { columns })`: those columns, in that order (ERR_SCHEMA names any the key lacks). */
export function project(table: Table, columns: readonly string[] | undefined, id: KeyId): Table {
  if (columns === undefined || table.numCols === 0) return table;
  const names = new Set(table.schema.fields.map((f) => f.name));
  const unknown = columns.filter((c) => !names.has(c));
  if (unknown.length > 0) {
    throw new LaminateError('ERR_SCHEMA', `Key ${showKey(id)} has no column ${unknown.map((c) => `"${c}"`).join(', ')}; its columns are ${[...names].map((c) => `"${c}"`).join(', ')}.`, { key: showKey(id) });
  }
  return table.select(columns as string[]);
}

/** arrow(inner): appends apache-arrow Tables or RecordBatches; `get` returns one Table of every batch. */
export function arrow(inner: Store<Uint8Array>): ArrowStore {
  return new ArrowStore(inner);
}

registerLayer('arrow', { children: ['inner'], open: (spec, inner) => arrow(inner(spec.inner as StoreSpec)) });
