/**
 * Tables as text and bytes: CSV (csv-stringify and csv-parse), JSON lines and
 * Arrow IPC streams, both ways. The csv backend stores its files with these,
 * and the `laminate read` / `laminate write` commands convert with them.
 *
 * CSV keeps types through quoting: strings that would read back as something
 * else (a number, true/false, an empty string) are written quoted, and on
 * reading a column is numeric (Float64) or boolean only when every value in
 * it is unquoted and looks like one; an unquoted empty field is null.
 */
import { LaminateError } from '@laminate/core/layer';
import { Bool, Float64, type Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { fromRecords, tableOf, valuesOf } from './frames.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^NaN$|^[+-]?Infinity$/;
const BOOLEAN = /^(?:true|false)$/;

export interface Cell {
  value: string;
  quoted: boolean;
}

export type Format = 'csv' | 'jsonl' | 'arrow';
export const FORMATS: readonly Format[] = ['csv', 'jsonl', 'arrow'];

/** The rows of `table` (in `columns` order) as CSV text, with a header line first when `header` is true. */
export function csvText(table: Table, columns: readonly string[] = table.schema.fields.map((f) => f.name), header = true): string {
  const values = columns.map((name) => valuesOf(table.getChild(name)!));
  const rows = Array.from({ length: table.numRows }, (_, i) => values.map((column) => column[i]));
  return stringify(header ? [columns, ...rows] : rows, {
    cast: {
      boolean: (value) => (value ? 'true' : 'false'),
      number: (value) => String(value),
      // An empty string is quoted, so it reads back as itself and not as null; so is a string that looks like a number or a boolean.
      string: (value) => (value === '' ? { value, quoted_empty: true } : NUMBER.test(value) || BOOLEAN.test(value) ? { value, quoted: true } : value),
    },
  });
}

/**
 * CSV bytes (a header line, then rows) as a Table; `what` names the source in
 * errors.
 *
 * Whether a field was quoted matters only for one that would otherwise read
 * as a number, a boolean or a null, and finding out costs: csv-parse tells a
 * cast function, but builds an info object for every field to do so, several
 * times the cost of the parse. So the text is first searched for a quote
 * character followed by what such a field starts with (a digit, a sign, a
 * dot, N, I, t, f, or a second quote, as in an empty "" or an escaped one).
 * Without one, no such field is quoted, and the fields are parsed as plain
 * strings; with one, through the cast function.
 */
export function csvTable(bytes: Uint8Array, what: string): Table {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const careful = quotesLookAlike(buffer);
  let records: (Cell | string)[][];
  try {
    records = careful ? (parse(buffer, { cast: (value, context) => ({ value, quoted: context.quoting }), bom: true }) as unknown as Cell[][]) : (parse(buffer, { bom: true }) as string[][]);
  } catch (error) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `${what} is not valid CSV: ${(error as Error).message}`, { cause: error });
  }
  if (records.length === 0) return tableOf([]);
  const [header, ...rows] = records;
  return tableOf(
    header.map((name, k) => {
      const title = careful ? (name as Cell).value : (name as string);
      const column = careful
        ? columnFrom(rows.length, (i) => (rows[i][k] as Cell | undefined)?.value, (i) => (rows[i][k] as Cell | undefined)?.quoted === true)
        : columnFrom(rows.length, (i) => rows[i][k] as string | undefined, () => false);
      return [title, column] as const;
    }),
  );
}

/** Whether some quote character is followed by what a number, a boolean or an empty field starts with. */
function quotesLookAlike(bytes: Uint8Array): boolean {
  for (let at = bytes.indexOf(0x22); at >= 0; at = bytes.indexOf(0x22, at + 1)) {
    const next = bytes[at + 1];
    // 0-9 + - . N I t f "
    if ((next >= 0x30 && next <= 0x39) || next === 0x2b || next === 0x2d || next === 0x2e || next === 0x4e || next === 0x49 || next === 0x74 || next === 0x66 || next === 0x22) return true;
  }
  return false;
}

/** A column from its cells (see columnFrom). */
export function columnOf(cells: readonly (Cell | undefined)[]): Vector {
  return columnFrom(cells.length, (i) => cells[i]?.value, (i) => cells[i]?.quoted === true);
}

/**
 * A column from its `n` cells: Float64 or Bool when every present cell is an
 * unquoted one of those, Utf8 otherwise; an unquoted empty cell (or a missing
 * one, in a short row) is null.
 */
function columnFrom(n: number, value: (i: number) => string | undefined, quoted: (i: number) => boolean): Vector {
  const isNull = (i: number) => {
    const v = value(i);
    return v === undefined || (v === '' && !quoted(i));
  };
  let numbers = true;
  let booleans = true;
  let present = false;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) continue;
    present = true;
    const v = value(i)!;
    const q = quoted(i);
    if (numbers && (q || !NUMBER.test(v))) numbers = false;
    if (booleans && (q || !BOOLEAN.test(v))) booleans = false;
    if (!numbers && !booleans) break;
  }
  if (present && numbers) {
    let nulls = false;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (isNull(i)) nulls = true;
      else out[i] = Number(value(i));
    }
    if (!nulls) return vectorFromArray(out);
    return vectorFromArray(Array.from({ length: n }, (_, i) => (isNull(i) ? null : out[i])), new Float64());
  }
  if (present && booleans) return vectorFromArray(Array.from({ length: n }, (_, i) => (isNull(i) ? null : value(i) === 'true')), new Bool());
  return vectorFromArray(Array.from({ length: n }, (_, i) => (isNull(i) ? null : value(i)!)), new Utf8());
}

/** One JSON object per row and line; NaN and ±Infinity (which JSON lacks) as strings. */
export function jsonlText(table: Table): string {
  const names = table.schema.fields.map((f) => f.name);
  const columns = names.map((name) => valuesOf(table.getChild(name)!));
  let out = '';
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    names.forEach((name, k) => {
      const value = columns[k][i];
      row[name] = typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
    });
    out += `${JSON.stringify(row)}\n`;
  }
  return out;
}

/** JSON lines (one object per line; blank lines skipped) as a Table. */
export function jsonlTable(text: string, what: string): Table {
  const records: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch (error) {
      throw new LaminateError('ERR_CORRUPT_FRAME', `${what}: line ${i + 1} is not JSON (${(error as Error).message}).`, { cause: error });
    }
  });
  return fromRecords(records, what);
}

/** An Arrow IPC stream of the table. */
export function arrowBytes(table: Table): Uint8Array {
  return tableToIPC(table, 'stream');
}

/** An Arrow IPC stream or file as a Table. */
export function arrowTable(bytes: Uint8Array, what: string): Table {
  try {
    return tableFromIPC(bytes);
  } catch (error) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `${what} is not an Arrow IPC stream or file: ${(error as Error).message}`, { cause: error });
  }
}

/** A table in `format`, as bytes. */
export function encodeTable(table: Table, format: Format): Uint8Array {
  if (format === 'arrow') return arrowBytes(table);
  return Buffer.from(format === 'csv' ? csvText(table) : jsonlText(table));
}

/** Bytes in `format` as a table. */
export function decodeTable(bytes: Uint8Array, format: Format, what: string): Table {
  if (format === 'arrow') return arrowTable(bytes, what);
  if (format === 'csv') return csvTable(bytes, what);
  return jsonlTable(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), what);
}
