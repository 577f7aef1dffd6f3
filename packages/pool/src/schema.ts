/**
 * A pool's schema: the columns of an episode's timesteps (Arrow types and
 * roles) and the metadata fields every episode carries, all of them the
 * user's declaration; one of them, a time, is the field time-range queries
 * use. It is stored with the pool in a plain JSON form, so a pool reopens
 * without it and refuses another one.
 */
import { typeKey } from '@laminate/arrow';
import { LaminateError } from '@laminate/core';
import { typeError } from '@laminate/core/layer';
import {
  Bool,
  DataType,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  RecordBatch,
  Schema,
  Table,
  Type,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  type Vector,
  makeData,
  makeVector,
  vectorFromArray,
} from 'apache-arrow';

/** A column type by name, or any apache-arrow DataType. */
export type ColumnTypeName = 'float16' | 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool' | 'utf8';

export interface ColumnSpec {
  type: ColumnTypeName | DataType;
  /** What the column holds: 'state', 'action', 'reward', 'done', 'info', or any name of yours. Default 'state'. */
  role?: string;
  /** Values per step: a column of `size` numbers each step (an Arrow FixedSizeList). */
  size?: number;
}

export type MetadataType = 'utf8' | 'float64' | 'int32' | 'bool' | 'timestamp';

export interface MetadataSpec {
  type: MetadataType;
  /** An episode may leave the field out (null). Default false. */
  nullable?: boolean;
}

export interface PoolSchemaInput {
  /** The timestep columns, in the order sample() returns them. */
  columns: Record<string, ColumnTypeName | DataType | ColumnSpec>;
  /** The metadata fields every episode carries, in the order sample() returns them. */
  metadata: Record<string, MetadataType | MetadataSpec>;
  /** The metadata field time-range queries use: a timestamp every episode has. */
  time: string;
}

type MetadataField = { name: string; type: MetadataType; nullable: boolean };

/** The stored form. */
export interface PoolSchemaJSON {
  version: 2;
  columns: { name: string; type: string; role: string }[];
  metadata: MetadataField[];
  time: string;
}

/** Names the sample table and find() use for their own columns and fields. */
export const RESERVED = ['episode', 'step', 'id', 'steps'];
const METADATA_TYPES: readonly MetadataType[] = ['utf8', 'float64', 'int32', 'bool', 'timestamp'];

const NAMED: Record<ColumnTypeName, () => DataType> = {
  float16: () => new Float16(),
  float32: () => new Float32(),
  float64: () => new Float64(),
  int8: () => new Int8(),
  int16: () => new Int16(),
  int32: () => new Int32(),
  int64: () => new Int64(),
  uint8: () => new Uint8(),
  uint16: () => new Uint16(),
  uint32: () => new Uint32(),
  uint64: () => new Uint64(),
  bool: () => new Bool(),
  utf8: () => new Utf8(),
};

/** A column type as the schema stores it: apache-arrow's own text, whatever the child fields are called. */
const typeName = (type: DataType) => typeKey(type, { children: false });

/** The type a stored type name stands for, when it is one the pool can build (else undefined). */
function typeFromName(name: string): DataType | undefined {
  for (const make of Object.values(NAMED)) {
    const type = make();
    if (typeName(type) === name) return type;
  }
  const list = /^FixedSizeList\[(\d+)\]<(.+)>$/.exec(name);
  if (list) {
    const child = typeFromName(list[2]);
    if (child) return new FixedSizeList(Number(list[1]), new Field('item', child, true));
  }
  return undefined;
}

function schemaOption(message: string): LaminateError {
  return typeError('ERR_INVALID_OPTION', `EpisodePool schema: ${message}`);
}

/** Checks what the user declared and turns it into the stored form. */
export function normalizeSchema(input: PoolSchemaInput): PoolSchemaJSON {
  if (input === null || typeof input !== 'object' || input.columns === null || typeof input.columns !== 'object') {
    throw schemaOption('pass { columns: { name: type or { type, role, size } }, metadata: { name: type }, time: name }, such as { columns: { obs: { type: "float32", role: "state", size: 17 }, reward: { type: "float32", role: "reward" } }, metadata: { start: "timestamp" }, time: "start" }.');
  }
  const columns: PoolSchemaJSON['columns'] = [];
  for (const [name, given] of Object.entries(input.columns)) {
    if (RESERVED.includes(name)) throw schemaOption(`the column name "${name}" is taken by the pool's own columns (${RESERVED.join(', ')}); rename it.`);
    const spec: ColumnSpec = typeof given === 'string' || given instanceof DataType ? { type: given } : given;
    let type: DataType;
    if (spec?.type instanceof DataType) type = spec.type;
    else if (typeof spec?.type === 'string' && spec.type in NAMED) type = NAMED[spec.type as ColumnTypeName]();
    else throw schemaOption(`column "${name}" has type ${JSON.stringify(spec?.type)}; use one of ${Object.keys(NAMED).join(', ')} or an apache-arrow DataType.`);
    if (spec.size !== undefined) {
      if (!Number.isInteger(spec.size) || spec.size < 1) throw schemaOption(`column "${name}" has size ${String(spec.size)}; size is a whole number of values per step, 1 or more.`);
      type = new FixedSizeList(spec.size, new Field('item', type, true));
    }
    const role = spec.role ?? 'state';
    if (typeof role !== 'string' || role === '') throw schemaOption(`column "${name}" has role ${JSON.stringify(role)}; a role is a name such as "state", "action" or "reward".`);
    columns.push({ name, type: typeName(type), role });
  }
  if (columns.length === 0) throw schemaOption('declare at least one timestep column.');
  const metadata: PoolSchemaJSON['metadata'] = [];
  for (const [name, given] of Object.entries(input.metadata ?? {})) {
    if (RESERVED.includes(name) || columns.some((c) => c.name === name)) throw schemaOption(`the metadata field "${name}" is taken (by the pool's own fields ${RESERVED.join(', ')}, or by a column); rename it.`);
    const spec: MetadataSpec = typeof given === 'string' ? { type: given } : given;
    if (!METADATA_TYPES.includes(spec?.type)) throw schemaOption(`metadata field "${name}" has type ${JSON.stringify(spec?.type)}; use one of ${METADATA_TYPES.join(', ')}.`);
    metadata.push({ name, type: spec.type, nullable: spec.nullable === true });
  }
  const time = metadata.find((m) => m.name === input.time);
  if (!time || time.type !== 'timestamp' || time.nullable) {
    throw schemaOption(`time names the metadata field that time-range queries use, a timestamp every episode carries (not nullable), such as metadata: { start: "timestamp" }, time: "start"; got time ${JSON.stringify(input.time)}${time ? ` (${time.type}${time.nullable ? ', nullable' : ''})` : ''}.`);
  }
  return { version: 2, columns, metadata, time: time.name };
}

/** What differs between the stored schema and one given on open; empty when they agree. */
export function schemaChanges(stored: PoolSchemaJSON, given: PoolSchemaJSON): string[] {
  const out: string[] = [];
  const compare = <T extends { name: string }>(what: string, a: T[], b: T[], show: (x: T) => string) => {
    for (const x of a) {
      const y = b.find((c) => c.name === x.name);
      if (!y) out.push(`${what} "${x.name}" (${show(x)}) is missing`);
      else if (show(x) !== show(y)) out.push(`${what} "${x.name}" is ${show(y)} here but ${show(x)} in the pool`);
    }
    for (const y of b) if (!a.some((c) => c.name === y.name)) out.push(`${what} "${y.name}" (${show(y)}) is not in the pool`);
  };
  compare('column', stored.columns, given.columns, (c) => `${c.type}, role ${c.role}`);
  compare('metadata field', stored.metadata, given.metadata, (m) => `${m.type}${m.nullable ? ', nullable' : ''}`);
  if (stored.time !== given.time) out.push(`the time field is "${given.time}" here but "${stored.time}" in the pool`);
  if (out.length === 0 && stored.columns.map((c) => c.name).join() !== given.columns.map((c) => c.name).join()) out.push('the columns come in another order');
  return out;
}

/**
 * Version 1, written before metadata became the user's declaration, had
 * vehicle, driver and start built in: those pools read as if they had
 * declared them, start being the time field.
 */
const V1_BUILT_IN: readonly MetadataField[] = [
  { name: 'vehicle', type: 'utf8', nullable: false },
  { name: 'driver', type: 'utf8', nullable: false },
  { name: 'start', type: 'timestamp', nullable: false },
];

/** The stored schema, checked (it comes from disk). */
export function readSchema(value: unknown): PoolSchemaJSON {
  const s = value as Omit<PoolSchemaJSON, 'version'> & { version: number };
  if (!s || !Array.isArray(s.columns) || !Array.isArray(s.metadata) || (s.version !== 1 && (s.version !== 2 || typeof s.time !== 'string'))) {
    throw new LaminateError('ERR_CORRUPT_FRAME', 'The pool\'s stored schema is not one this version reads; open the pool with the version that wrote it.');
  }
  if (s.version === 1) return { version: 2, columns: s.columns, metadata: [...V1_BUILT_IN, ...s.metadata], time: 'start' };
  return s as PoolSchemaJSON;
}

/** The schema in the form episodes are checked and encoded with. */
export class PoolSchema {
  readonly columns: PoolSchemaJSON['columns'];
  readonly metadata: readonly MetadataField[];
  /** The metadata field time-range queries use. */
  readonly time: string;
  /** The Arrow schema every stored episode is written with (types the pool can build; else learnt from the first episode). */
  arrow?: Schema;
  private readonly types: (DataType | undefined)[];

  constructor(readonly json: PoolSchemaJSON) {
    this.columns = json.columns;
    this.metadata = json.metadata;
    this.time = json.time;
    this.types = json.columns.map((c) => typeFromName(c.type));
    if (this.types.every((t) => t !== undefined)) this.arrow = new Schema(json.columns.map((c, i) => new Field(c.name, this.types[i]!, true)));
  }

  /** The episode's batches and its metadata checked together: one ERR_SCHEMA names every problem of both. */
  check(episode: unknown, meta: unknown): { batches: RecordBatch[]; meta: ReturnType<PoolSchema['checkMeta']> } {
    const problems: string[] = [];
    const attempt = <T>(fn: () => T): T | undefined => {
      try {
        return fn();
      } catch (error) {
        const found = (error as { problems?: string[] }).problems;
        if (!found) throw error;
        problems.push(...found);
        return undefined;
      }
    };
    const batches = attempt(() => this.toBatches(episode));
    const checked = attempt(() => this.checkMeta(meta));
    if (problems.length > 0) throw mismatch(problems);
    return { batches: batches!, meta: checked! };
  }

  /** The names of the columns with `role`. */
  columnsWith(role: string): string[] {
    return this.columns.filter((c) => c.role === role).map((c) => c.name);
  }

  /**
   * The episode as one RecordBatch with the pool's schema, or ERR_SCHEMA
   * naming every mismatch. Takes an apache-arrow Table or RecordBatch, or an
   * object of column name → typed array or array.
   */
  toBatches(episode: unknown): RecordBatch[] {
    if (Table.isTable(episode) || RecordBatch.isRecordBatch(episode)) return this.fromTable(Table.isTable(episode) ? episode : new Table(episode as RecordBatch));
    if (episode === null || typeof episode !== 'object' || Array.isArray(episode)) {
      throw typeError('ERR_VALUE_TYPE', `store() takes an episode as an apache-arrow Table or RecordBatch, or an object of column → array (${this.columns.map((c) => c.name).join(', ')}); got ${episode === null ? 'null' : Array.isArray(episode) ? 'an array' : typeof episode}. Nothing was stored.`);
    }
    return this.fromColumns(episode as Record<string, unknown>);
  }

  private fromTable(table: Table): RecordBatch[] {
    const fields = table.schema.fields;
    let same = fields.length === this.columns.length;
    for (let i = 0; same && i < fields.length; i++) same = fields[i].name === this.columns[i].name && typeName(fields[i].type) === this.columns[i].type;
    if (!same) {
      const problems: string[] = [];
      const byName = new Map(fields.map((f) => [f.name, f]));
      for (const column of this.columns) {
        const field = byName.get(column.name);
        if (!field) problems.push(`column "${column.name}" (${column.type}) is missing`);
        else if (typeName(field.type) !== column.type) problems.push(`column "${column.name}" is ${typeName(field.type)} but the pool stores ${column.type}`);
      }
      for (const field of fields) if (!this.columns.some((c) => c.name === field.name)) problems.push(`column "${field.name}" (${typeName(field.type)}) is not in the pool's schema`);
      if (problems.length > 0) throw mismatch(problems);
      // The same columns in another order.
      table = table.select(this.columns.map((c) => c.name));
    }
    this.learn(table.schema);
    // The batches keep their own schema objects: the stream is written with the pool's (see toStream).
    return table.batches.filter((b) => b.numRows > 0);
  }

  private fromColumns(columns: Record<string, unknown>): RecordBatch[] {
    const problems: string[] = [];
    for (const name of Object.keys(columns)) if (!this.columns.some((c) => c.name === name)) problems.push(`column "${name}" is not in the pool's schema`);
    const vectors: Record<string, ReturnType<typeof makeVector>> = {};
    let steps: number | undefined;
    this.columns.forEach((column, i) => {
      const values = columns[column.name];
      const type = this.types[i];
      if (values === undefined) return void problems.push(`column "${column.name}" (${column.type}) is missing`);
      if (!type) return void problems.push(`column "${column.name}" is ${column.type}, which the pool builds only from an Arrow Table: pass the episode as a Table`);
      try {
        const vector = toVector(values, type, column.name);
        if (steps !== undefined && vector.length !== steps) problems.push(`column "${column.name}" has ${vector.length} steps, the others ${steps}`);
        steps ??= vector.length;
        vectors[column.name] = vector;
      } catch (error) {
        problems.push((error as Error).message);
      }
    });
    if (problems.length > 0) throw mismatch(problems);
    return this.fromTable(new Table(vectors));
  }

  /** The pool's Arrow schema, learnt from the first episode where its types are not ones the pool builds. */
  private learn(schema: Schema): Schema {
    if (this.arrow) return this.arrow;
    this.arrow = new Schema(schema.fields.map((f) => new Field(f.name, f.type, true)));
    return this.arrow;
  }

  /**
   * The metadata of one episode as stored in the index: every declared field
   * (times in ms since the epoch, null for a nullable field left out).
   * ERR_SCHEMA names any field missing, undeclared or of the wrong type.
   */
  checkMeta(meta: unknown): Record<string, unknown> {
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
      throw typeError('ERR_VALUE_TYPE', `store(episode, meta) needs meta as an object: { ${this.metadata.map((m) => m.name).join(', ')} }. Nothing was stored.`);
    }
    const given = meta as Record<string, unknown>;
    const problems: string[] = [];
    const out: Record<string, unknown> = {};
    for (const field of this.metadata) {
      const value = given[field.name];
      if (value === undefined || value === null) {
        if (!field.nullable) problems.push(`metadata field "${field.name}" (${field.type}) is missing`);
        else out[field.name] = null;
        continue;
      }
      const checked = checkField(field.type, value);
      if (checked === undefined) problems.push(`metadata field "${field.name}" should be ${describeType(field.type)}, got ${JSON.stringify(value) ?? typeof value}`);
      else out[field.name] = checked;
    }
    for (const name of Object.keys(given)) if (!this.metadata.some((m) => m.name === name)) problems.push(`metadata field "${name}" is not in the pool's schema (declare it under schema.metadata)`);
    if (problems.length > 0) throw mismatch(problems);
    return out;
  }
}

/** The largest time a Date holds, in ms either side of 1970 (ECMAScript's ±100,000,000 days). */
const MAX_DATE_MS = 8.64e15;

function describeType(type: MetadataType): string {
  return { utf8: 'a string', float64: 'a number', int32: 'a whole number within 32 bits', bool: 'true or false', timestamp: 'a Date or milliseconds since 1970, within the ±8.64e15 ms a Date holds' }[type];
}

/** The value as the index keeps it, or undefined when it is not of `type`. */
function checkField(type: MetadataType, value: unknown): unknown {
  switch (type) {
    case 'utf8':
      return typeof value === 'string' ? value : undefined;
    case 'float64':
      return typeof value === 'number' && !Number.isNaN(value) ? value : undefined;
    case 'int32':
      return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31 ? value : undefined;
    case 'bool':
      return typeof value === 'boolean' ? value : undefined;
    case 'timestamp': {
      // Within the range a Date can hold, so that find() gives back a valid Date.
      const ms = value instanceof Date ? value.getTime() : value;
      return typeof ms === 'number' && Math.abs(ms) <= MAX_DATE_MS ? ms : undefined;
    }
  }
}

function mismatch(problems: string[]): LaminateError {
  return Object.assign(new LaminateError('ERR_SCHEMA', `The episode does not match the pool's schema: ${problems.join('; ')}. Nothing was stored.`), { problems });
}

/**
 * Refuses an element that is not of the column's kind (apache-arrow would
 * turn a string in a float32 column into NaN, a number in a utf8 column into
 * text); null stands for a missing value.
 */
function checkElements(items: readonly unknown[], type: DataType, name: string): void {
  const fits = DataType.isFloat(type)
    ? (x: unknown) => typeof x === 'number'
    : DataType.isInt(type)
      ? (x: unknown) => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'bigint'
      : DataType.isBool(type)
        ? (x: unknown) => typeof x === 'boolean'
        : DataType.isUtf8(type)
          ? (x: unknown) => typeof x === 'string'
          : () => true;
  const at = items.findIndex((x) => x !== null && x !== undefined && !fits(x));
  if (at >= 0) throw new Error(`column "${name}" holds ${JSON.stringify(items[at]) ?? String(items[at])} at index ${at}, which is not a ${typeName(type)} value`);
}

/** A column's values as a Vector of `type`: typed arrays of the right kind are used as they are. */
function toVector(values: unknown, type: DataType, name: string): Vector {
  if (type instanceof FixedSizeList) {
    const child = type.children[0].type as DataType;
    const flat: Vector = toVector(values, child, name);
    if (flat.length % type.listSize !== 0) throw new Error(`column "${name}" holds ${flat.length} values, not a whole number of steps of ${type.listSize}`);
    const data = flat.data[0];
    return makeVector(makeData({ type, length: flat.length / type.listSize, nullCount: 0, child: data }));
  }
  const Arr = (type as { ArrayType?: unknown }).ArrayType as (new (n: number) => ArrayLike<unknown>) | undefined;
  if (ArrayBuffer.isView(values) && Arr && values instanceof (Arr as unknown as typeof Float32Array) && type.typeId !== Type.Bool) {
    return makeVector(makeData({ type, length: (values as ArrayLike<unknown>).length, nullCount: 0, data: values as Float32Array } as never));
  }
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    const items = Array.from(values as ArrayLike<unknown>);
    checkElements(items, type, name);
    try {
      return vectorFromArray(items, type);
    } catch (error) {
      throw new Error(`column "${name}" cannot be made ${typeName(type)} (${(error as Error).message})`);
    }
  }
  throw new Error(`column "${name}" should be an array or typed array of ${typeName(type)} values`);
}
