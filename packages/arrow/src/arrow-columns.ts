/**
 * arrowColumns(inner): Arrow tables stored column by column (partd's
 * PandasColumns), so `get(key, { columns: ['a'] })` reads only column a.
 *
 * Layout in the bytes store below, for a key K (a string or a tuple):
 *
 *   [...K, '.schema']   one frame: an IPC stream of the key's schema and no rows
 *   [...K, name]        per column: one frame per append, each an IPC stream
 *                       of that column alone (the same batches as appended)
 *
 * A column name that starts with '.' gets one more '.' in front
 * (column '.x' → sub-key '..x'), so no column can take the '.schema' slot;
 * every other name is used as it is. On disk under file(), key K is a folder
 * with a file per column and a `.schema` file. Each frame is a complete Arrow
 * IPC stream, as in arrow(), so any Arrow reader reads a column file.
 */
import { type Store, type AppendData, type Consumer, type Key, LaminateError, type OpOptions, type StoreSpec, type Supports } from '@laminate/core';
import { WrapperStore, type FollowRequest, type Followed, type FrameReader, type KeyId, keyId, keyParts, showKey, registerLayer, readFrames, splitFrames } from '@laminate/core/layer';
import { makeData, RecordBatch, Schema, Struct, Table } from 'apache-arrow';
import { encodeFrame, project } from './arrow.js';
import { type ColumnsFollowOptions, type ColumnsLayout, checkColumnsOption, followColumns, notRetainedColumns, sealColumns, sealedColumns } from './columns-follow.js';
import { asTable, checkTable, emptyTable, fromStream, isBlank, joinTables, schemaDiff, schemaError, schemaOfStream, type TableLike } from './tables.js';

const SCHEMA = '.schema';
type FollowParameters = Parameters<WrapperStore<Table>['follow']>;
const NO_REPAIR = 'delete the key and write it again (arrowColumns() has no repair())';

function subId(id: KeyId, part: string): KeyId {
  return keyId([...keyParts(id), part]);
}

function columnPart(name: string): string {
  return name.startsWith('.') ? `.${name}` : name;
}

export class ArrowColumnsStore extends WrapperStore<Table> {
  /** Each key's schema, as for arrow(): learnt on write or read, forgotten on delete. */
  private readonly schemas = new Map<KeyId, Schema>();

  constructor(
    inner: Store<Uint8Array>,
    /** The columns this store's followers yield (follow(key, { columns })); all by default. */
    private readonly followed?: readonly string[],
  ) {
    super('arrowColumns', inner);
  }

  empty(): Table {
    return emptyTable();
  }

  protected checkValue(value: unknown, id: KeyId): asserts value is Table {
    checkTable('arrowColumns', value, id);
  }

  protected override isEmpty(value: Table): boolean {
    return value.numRows === 0 && value.numCols === 0;
  }

  override append(data: AppendData<TableLike>, opts?: OpOptions): Promise<void> {
    return super.append(data as AppendData<Table>, opts);
  }

  async appendIds(ids: readonly KeyId[], values: readonly Table[]): Promise<void> {
    const tables = values.map(asTable);
    for (let i = 0; i < tables.length; i++) {
      const names = tables[i].schema.fields.map((f) => f.name);
      const twice = names.filter((name, k) => names.indexOf(name) !== k);
      if (twice.length > 0) throw schemaError('arrowColumns', showKey(ids[i]), [`the column name ${[...new Set(twice)].map((n) => `"${n}"`).join(', ')} appears twice (each column is stored under its name)`]);
    }
    await this.inner.withLock(async () => {
      const known = await this.schemasOf(ids);
      const fresh = new Map<KeyId, Schema>();
      const subIds: KeyId[] = [];
      const frames: Uint8Array[] = [];
      for (let i = 0; i < tables.length; i++) {
        const id = ids[i];
        const table = tables[i];
        if (isBlank(table)) continue;
        const first = known.get(id) ?? fresh.get(id);
        if (first === undefined) {
          fresh.set(id, table.schema);
          subIds.push(subId(id, SCHEMA));
          frames.push(encodeFrame(new Table(table.schema), id));
        } else {
          const diff = schemaDiff(first, table.schema);
          if (diff.length > 0) throw schemaError('arrowColumns', showKey(id), diff);
        }
        table.schema.fields.forEach((field, k) => {
          const schema = new Schema([field]);
          const batches = table.batches.map((b) => new RecordBatch(schema, makeData({ type: new Struct([field]), length: b.numRows, nullCount: 0, children: [b.data.children[k]] })));
          subIds.push(subId(id, columnPart(field.name)));
          frames.push(encodeFrame(new Table(schema, batches), id));
        });
      }
      if (subIds.length === 0) return;
      await this.inner.appendIds(subIds, frames);
      for (const [id, schema] of fresh) this.schemas.set(id, schema);
    });
  }

  /** The schemas of `ids` that have one: remembered, or read from their `.schema` sub-keys in one call. */
  private async schemasOf(ids: readonly KeyId[]): Promise<Map<KeyId, Schema>> {
    const out = new Map<KeyId, Schema>();
    const unknown = [...new Set(ids.filter((id) => !this.schemas.has(id)))];
    for (const id of ids) if (this.schemas.has(id)) out.set(id, this.schemas.get(id)!);
    if (unknown.length === 0) return out;
    const stored = await this.inner.getIds(unknown.map((id) => subId(id, SCHEMA)));
    stored.forEach((bytes, i) => {
      if (bytes.byteLength === 0) return;
      const { payloads } = splitFrames(bytes, subId(unknown[i], SCHEMA), false);
      if (payloads.length === 0) return;
      const schema = schemaOfStream(payloads[0]);
      this.schemas.set(unknown[i], schema);
      out.set(unknown[i], schema);
    });
    return out;
  }

  async getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<Table[]> {
    return (await this.readAppends(ids, opts?.columns)).map(joinTables);
  }

  /** Per key, one Table per append, holding the chosen columns (all by default). */
  private async readAppends(ids: readonly KeyId[], columns: readonly string[] | undefined): Promise<Table[][]> {
    const schemas = await this.schemasOf(ids);
    const wanted = ids.map((id) => {
      const schema = schemas.get(id);
      if (!schema) return undefined;
      // project() checks the names and orders the fields; its table has no rows.
      return project(new Table(schema), columns, id).schema;
    });
    const subIds = ids.flatMap((id, i) => wanted[i]?.fields.map((f) => subId(id, columnPart(f.name))) ?? []);
    const stored = subIds.length === 0 ? [] : await this.inner.getIds(subIds);
    let at = 0;
    return ids.map((id, i) => {
      const schema = wanted[i];
      if (!schema || schema.fields.length === 0) return [];
      const perColumn = schema.fields.map((field) => this.decodeColumn(stored[at++], id, field.name));
      return assemble(schema, perColumn, id);
    });
  }

  /** How a column's frames read: each an Arrow IPC stream, checked as arrow() checks its frames. */
  private frames(what: string): FrameReader<Table> {
    return { layer: what, decode: fromStream, tearable: !(this.inner instanceof WrapperStore), noRepair: NO_REPAIR };
  }

  private decodeColumn(bytes: Uint8Array, id: KeyId, name: string): Table[] {
    return readFrames(bytes, subId(id, columnPart(name)), this.frames(`arrowColumns() column "${name}"`));
  }

  /** Each append is a frame per column, so iter() yields one Table per append over any store. */
  override get supports(): Supports {
    return { reopen: this.inner.supports.reopen, iterChunks: true };
  }

  override async *iterId(id: KeyId): AsyncIterable<Table> {
    const [appends] = await this.readAppends([id], undefined);
    yield* appends;
  }

  async deleteIds(ids: readonly KeyId[]): Promise<void> {
    await this.inner.withLock(async () => {
      const schemas = await this.schemasOf(ids);
      const subIds: KeyId[] = [];
      for (const [id, schema] of schemas) {
        subIds.push(subId(id, SCHEMA));
        for (const field of schema.fields) subIds.push(subId(id, columnPart(field.name)));
      }
      if (subIds.length > 0) await this.inner.deleteIds(subIds);
      for (const id of ids) this.schemas.delete(id);
    });
  }

  /** User keys: those with a `.schema` sub-key. */
  async listIds(): Promise<KeyId[]> {
    const out: KeyId[] = [];
    for (const id of await this.inner.listIds()) {
      const parts = keyParts(id);
      if (parts.length >= 2 && parts[parts.length - 1] === SCHEMA) out.push(keyId(parts.slice(0, -1)));
    }
    return out;
  }

  isetId(id: KeyId, value: Table): Promise<void> {
    return this.inner.isetId(id, encodeFrame(asTable(value), id));
  }

  async igetId(id: KeyId): Promise<Table | undefined> {
    const bytes = await this.inner.igetId(id);
    if (bytes === undefined) return undefined;
    return joinTables(readFrames(bytes, id, this.frames('arrowColumns()')));
  }

  protected override async dropAll(): Promise<void> {
    await super.dropAll();
    this.schemas.clear();
  }

  // Streams (columns-follow.ts): a follower yields one Table per append once every chosen column's frame of it has
  // landed; its position counts tables, and a seal seals every column's sub-key and then `.schema`.

  /**
   * follow(key, { columns }) follows only those columns, in that order; the
   * other options are every store's. The follower is made by a twin of this
   * store over the same inner store that follows only those columns, so that
   * everything else follow() does stays the base class's.
   */
  override follow(key: Key, opts?: FollowParameters[1] & ColumnsFollowOptions): ReturnType<WrapperStore<Table>['follow']> {
    const { columns, ...rest } = opts ?? {};
    const chosen = checkColumnsOption(columns);
    if (chosen === undefined) return super.follow(key, opts);
    this.assertOpen();
    return super.follow.call(new ArrowColumnsStore(this.inner, chosen), key, rest);
  }

  override followId(id: KeyId, request: FollowRequest): AsyncIterable<Followed<Table>> {
    return followColumns(this.layout, id, request, this.followed);
  }

  override sealId(id: KeyId): Promise<void> {
    return sealColumns(this.layout, id);
  }

  /** How many tables the key held when it was sealed. */
  override sealedId(id: KeyId): Promise<number | undefined> {
    return sealedColumns(this.layout, id);
  }

  // Retention: a position here counts tables, kept in several sub-keys, so a consumer position or a trim
  // of the inner store's bytes would not mean it. A consumer keeps follower.position itself and resumes with from.
  override commitId(): Promise<void> {
    return Promise.reject(notRetainedColumns('keep consumer positions'));
  }

  override consumersId(): Promise<Consumer[]> {
    return Promise.reject(notRetainedColumns('keep consumer positions'));
  }

  override forgetId(): Promise<void> {
    return Promise.reject(notRetainedColumns('keep consumer positions'));
  }

  override trimId(): Promise<void> {
    return Promise.reject(notRetainedColumns('trim a key'));
  }

  /** Positions count tables from the key's first, which is never trimmed away. */
  override startId(): Promise<number> {
    return Promise.resolve(0);
  }

  private readonly layout: ColumnsLayout = {
    inner: this.inner,
    schemaOf: async (id) => (await this.schemasOf([id])).get(id),
    chosen: (schema, columns, id) => project(new Table(schema), columns, id).schema,
    schemaId: (id) => subId(id, SCHEMA),
    columnId: (id, name) => subId(id, columnPart(name)),
    reader: (name) => this.frames(`arrowColumns() column "${name}"`),
    schemaReader: { layer: 'arrowColumns() schema', decode: schemaOfStream, tearable: !(this.inner instanceof WrapperStore), noRepair: NO_REPAIR },
    join: (schema, parts, id) => assemble(schema, parts.map((part) => [part]), id)[0],
  };

  /** An append writes one frame per column, so a cut-short append cannot be cut back key-wide: see torn(). */
  override async repair(): Promise<number> {
    this.assertOpen();
    throw new LaminateError('ERR_NOT_SUPPORTED', 'arrowColumns() cannot repair a key: each append writes one frame per column, so an append cut short leaves columns that disagree. Delete the key and write it again.');
  }
}

/** Puts the columns of each append side by side again: the same batches, now with every chosen column. */
function assemble(schema: Schema, perColumn: Table[][], id: KeyId): Table[] {
  const appends = perColumn[0].length;
  const out: Table[] = [];
  for (let i = 0; i < appends; i++) {
    const parts = perColumn.map((frames, c) => {
      const part = frames[i];
      if (part === undefined) throw torn(id, schema.fields[c].name, frames.length, appends);
      return part;
    });
    const batches = parts[0].batches.map((first, j) => {
      const children = parts.map((part, c) => {
        const batch = part.batches[j];
        if (batch === undefined || batch.numRows !== first.numRows) throw torn(id, schema.fields[c].name, part.numRows, parts[0].numRows);
        return batch.data.children[0];
      });
      return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: first.numRows, nullCount: 0, children }));
    });
    out.push(new Table(schema, batches));
  }
  for (let c = 1; c < perColumn.length; c++) if (perColumn[c].length !== appends) throw torn(id, schema.fields[c].name, perColumn[c].length, appends);
  return out;
}

function torn(id: KeyId, column: string, got: number, expected: number): LaminateError {
  return new LaminateError(
    'ERR_CORRUPT_FRAME',
    `Column "${column}" of key ${showKey(id)} does not line up with the key's other columns (${got} against ${expected}): an append was cut short between columns. Delete the key or rewrite it.`,
    { key: showKey(id) },
  );
}

/** arrowColumns(inner): Arrow tables stored column by column; `get(key, { columns })` reads only those columns. */
export function arrowColumns(inner: Store<Uint8Array>): ArrowColumnsStore {
  return new ArrowColumnsStore(inner);
}

registerLayer('arrowColumns', { children: ['inner'], open: (spec, inner) => arrowColumns(inner(spec.inner as StoreSpec)) });
