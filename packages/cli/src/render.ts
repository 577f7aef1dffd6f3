/**
 * How `cat` prints values that are not bytes: one JSON value per line for
 * every item a key holds (an item of a msgpack list, an element of a typed
 * array, a row of an Arrow table), so the output streams, and `wc -l`, `head`
 * and `jq` work on it.
 *
 * JSON cannot say everything a value may hold; the choices:
 * - bigint (int64 columns, BigInt64Array): the exact integer as a JSON number,
 *   written digit by digit (JSON numbers have no size limit; a reader that
 *   parses into doubles rounds it, as it would any large number);
 * - NaN, Infinity, -Infinity: the strings "NaN", "Infinity", "-Infinity";
 * - bytes (Uint8Array inside a value): {"$base64": "..."};
 * - Date: ISO 8601 text; Map: an object; Set: an array; undefined: null;
 * - anything with toJSON() (Arrow rows, vectors): what toJSON() returns.
 */
export function toJson(value: unknown, seen = new Set<object>()): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
    case 'bigint':
      return value.toString();
    case 'boolean':
      return String(value);
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
  }
  if (value === null) return 'null';
  const object = value as object;
  if (seen.has(object)) return '"[circular]"';
  seen.add(object);
  try {
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? 'null' : JSON.stringify(object.toISOString());
    if (object instanceof Uint8Array) return `{"$base64":${JSON.stringify(Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64'))}}`;
    if (ArrayBuffer.isView(object) && !(object instanceof DataView)) return `[${Array.from(object as unknown as ArrayLike<unknown>, (item) => toJson(item, seen)).join(',')}]`;
    if (Array.isArray(object)) return `[${object.map((item) => toJson(item, seen)).join(',')}]`;
    if (object instanceof Set) return `[${[...object].map((item) => toJson(item, seen)).join(',')}]`;
    if (object instanceof Map) return `{${[...object].map(([k, v]) => `${JSON.stringify(String(k))}:${toJson(v, seen)}`).join(',')}}`;
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJson(toJSON.call(object), seen);
    const fields: string[] = [];
    for (const [k, v] of Object.entries(object)) if (v !== undefined) fields.push(`${JSON.stringify(k)}:${toJson(v, seen)}`);
    return `{${fields.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}

interface TableLike {
  numRows: number;
  schema: unknown;
  [Symbol.iterator](): Iterator<unknown>;
}

interface DatetimeLike {
  values: BigInt64Array;
  unit: string;
  toDates(): (Date | null)[];
}

function isTable(value: object): value is TableLike {
  return typeof (value as TableLike).numRows === 'number' && (value as TableLike).schema !== undefined && typeof (value as TableLike)[Symbol.iterator] === 'function';
}

function isDatetimes(value: object): value is DatetimeLike {
  return (value as DatetimeLike).values instanceof BigInt64Array && typeof (value as DatetimeLike).unit === 'string' && typeof (value as DatetimeLike).toDates === 'function';
}

/**
 * The lines for one value a key's iter() gave (one appended value): its items,
 * each as JSON. datetime64 values print as ISO 8601 text (to the millisecond;
 * NaT as null), the way numpy prints them.
 */
export function* itemLines(value: unknown): Iterable<string> {
  if (typeof value !== 'object' || value === null) {
    yield toJson(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) yield toJson(item);
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const items = value as unknown as ArrayLike<unknown>;
    for (let i = 0; i < items.length; i++) yield toJson(items[i]);
  } else if (isDatetimes(value)) {
    for (const date of value.toDates()) yield toJson(date);
  } else if (isTable(value)) {
    for (const row of value) yield toJson(row);
  } else {
    yield toJson(value);
  }
}
