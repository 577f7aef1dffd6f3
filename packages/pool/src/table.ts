/**
 * The table sample() returns: the episode id, the step within the episode and
 * the metadata next to the timestep columns, one row per step, every column
 * in one contiguous chunk where the column types allow.
 */
import { type Data, DataType, Dictionary, Int32, Schema, Table, TimestampMillisecond, Uint32, Utf8, Vector, makeData, makeVector, vectorFromArray, Bool, Float64, Field } from 'apache-arrow';
import { copyColumns, flatPlan, fromStream } from './encoding.js';
import { type Entry, fieldOf } from './layout.js';
import type { MetadataType, PoolSchema } from './schema.js';

/** The Arrow types of the metadata columns. */
function metaType(type: MetadataType): DataType {
  switch (type) {
    case 'utf8':
      return new Dictionary(new Utf8(), new Int32());
    case 'float64':
      return new Float64();
    case 'int32':
      return new Int32();
    case 'bool':
      return new Bool();
    case 'timestamp':
      return new TimestampMillisecond();
  }
}

/** One metadata column: each episode's value repeated over its steps. */
function metaColumn(type: MetadataType, entries: Entry[], name: string, total: number): Vector {
  const arrowType = metaType(type);
  let nullCount = 0;
  let nullBitmap: Uint8Array | undefined;
  const values = entries.map((e) => fieldOf(e, name));
  if (values.some((v) => v === null || v === undefined)) {
    nullBitmap = new Uint8Array((total + 7) >> 3);
    let row = 0;
    entries.forEach((e, i) => {
      const present = values[i] !== null && values[i] !== undefined;
      for (let s = 0; s < e.steps; s++, row++) if (present) nullBitmap![row >> 3] |= 1 << (row & 7);
      if (!present) nullCount += e.steps;
    });
  }
  const fill = <A extends { [i: number]: unknown }>(out: A, value: (i: number) => unknown): A => {
    let row = 0;
    entries.forEach((e, i) => {
      const v = value(i);
      for (let s = 0; s < e.steps; s++) out[row++] = v as never;
    });
    return out;
  };
  switch (type) {
    case 'utf8': {
      const dictionary: string[] = [];
      const code = new Map<string, number>();
      const indices = fill(new Int32Array(total), (i) => {
        const v = values[i] as string | null;
        if (v === null || v === undefined) return 0;
        let c = code.get(v);
        if (c === undefined) code.set(v, (c = dictionary.push(v) - 1));
        return c;
      });
      return makeVector(makeData({ type: arrowType as Dictionary<Utf8, Int32>, length: total, nullCount, nullBitmap, data: indices, dictionary: vectorFromArray(dictionary, new Utf8()) }));
    }
    case 'float64':
      return makeVector(makeData({ type: arrowType as Float64, length: total, nullCount, nullBitmap, data: fill(new Float64Array(total), (i) => values[i] ?? 0) }));
    case 'int32':
      return makeVector(makeData({ type: arrowType as Int32, length: total, nullCount, nullBitmap, data: fill(new Int32Array(total), (i) => values[i] ?? 0) }));
    case 'timestamp':
      return makeVector(makeData({ type: arrowType as TimestampMillisecond, length: total, nullCount, nullBitmap, data: fill(new BigInt64Array(total), (i) => BigInt((values[i] as number | null) ?? 0)) }));
    case 'bool': {
      const bits = new Uint8Array((total + 7) >> 3);
      let row = 0;
      entries.forEach((e, i) => {
        for (let s = 0; s < e.steps; s++, row++) if (values[i] === true) bits[row >> 3] |= 1 << (row & 7);
      });
      return makeVector(makeData({ type: arrowType as Bool, length: total, nullCount, nullBitmap, data: bits }));
    }
  }
}

/**
 * The sample table for `entries`, whose IPC streams are `streams`. Columns of
 * fixed-width numbers (and fixed-size lists of them) are copied from the
 * streams into one buffer each; other columns are decoded with apache-arrow
 * and kept in one chunk per episode.
 */
export function sampleTable(schema: PoolSchema, entries: Entry[], streams: Uint8Array[]): Table {
  let total = 0;
  for (const e of entries) total += e.steps;
  const columns: Record<string, Vector> = {};
  const episode = new Uint32Array(total);
  const step = new Int32Array(total);
  let row = 0;
  for (const e of entries) {
    for (let s = 0; s < e.steps; s++, row++) {
      episode[row] = e.id;
      step[row] = s;
    }
  }
  columns.episode = makeVector(makeData({ type: new Uint32(), length: total, nullCount: 0, data: episode }));
  columns.step = makeVector(makeData({ type: new Int32(), length: total, nullCount: 0, data: step }));
  for (const field of schema.metadata) columns[field.name] = metaColumn(field.type, entries, field.name, total);
  const arrow = schema.arrow ?? (streams.length > 0 ? fromStream(streams[0], 'episode').schema : undefined);
  if (arrow) Object.assign(columns, stepColumns(arrow, entries, streams, total));
  return new Table(columns);
}

function stepColumns(arrow: Schema, entries: Entry[], streams: Uint8Array[], total: number): Record<string, Vector> {
  const plan = flatPlan(arrow);
  if (plan) {
    const out = plan.map((c) => new Uint8Array(total * c.stepBytes));
    let at = 0;
    let copied = true;
    for (let i = 0; i < streams.length && copied; i++) {
      const steps = copyColumns(streams[i], arrow, plan, out, at);
      if (steps !== entries[i].steps) copied = false;
      at += entries[i].steps;
    }
    if (copied) {
      const columns: Record<string, Vector> = {};
      arrow.fields.forEach((field, c) => (columns[field.name] = makeVector(flatData(field.type as DataType, out[c], total))));
      return columns;
    }
  }
  // Any column type: decode each episode; a column is one chunk per episode.
  const chunks = arrow.fields.map(() => [] as Data[]);
  streams.forEach((stream, i) => {
    const table = fromStream(stream, `episode ${entries[i].id}`);
    arrow.fields.forEach((field, c) => {
      const column = table.getChild(field.name);
      if (column) chunks[c].push(...column.data);
    });
  });
  const columns: Record<string, Vector> = {};
  arrow.fields.forEach((field, c) => (columns[field.name] = chunks[c].length > 0 ? new Vector(chunks[c]) : makeVector(makeData({ type: field.type, length: 0, nullCount: 0 } as never))));
  return columns;
}

/** A column of fixed-width values (or fixed-size lists of them) over `bytes`. */
function flatData(type: DataType, bytes: Uint8Array, length: number): Data {
  const children = type.children as Field[] | undefined;
  if (children && children.length === 1) {
    const size = (type as unknown as { listSize: number }).listSize;
    return makeData({ type, length, nullCount: 0, child: flatData(children[0].type, bytes, length * size) } as never);
  }
  const Arr = (type as unknown as { ArrayType: new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayLike<number> }).ArrayType;
  return makeData({ type, length, nullCount: 0, data: new Arr(bytes.buffer, bytes.byteOffset, length) } as never);
}
