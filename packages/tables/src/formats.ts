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
 * errors. Text with no quote character at all is parsed without csv-parse's
 * per-field cast (which builds an info object for every field, several times
 * the cost of the parse): nothing in it is quoted, so every field is unquoted.
 */
export function csvTable(bytes: Uint8Array, what: string): Table {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const quoted = buffer.includes(0x22);
  let records: (Cell | string)[][];
  try {
    records = quoted ? (parse(buffer, { cast: (value, context) => ({ value, quoted: context.quoting }), bom: true }) as unknown as Cell[][]) : (parse(buffer, { bom: true }) as string[][]);
  } catch (error) {
    throw new LaminateError('ERR_CORRUPT_FRAME', `${what} is not valid CSV: ${(error as Error).message}`, { cause: error });
  }
  if (records.length === 0) return tableOf([]);
  const [header, ...rows] = records;
  const cell = quoted ? (value: Cell | string | undefined) => value as Cell | undefined : (value: Cell | string | undefined) => (value === undefined ? undefined : { value: value as string, quoted: false });
  return tableOf(header.map((name, k) => [cell(name)!.value, columnOf(rows.map((row) => cell(row[k])))] as const));
}

/** A column from its cells: Float64 or Bool when every present cell is an unquoted one of those, Utf8 otherwise. */
export function columnOf(cells: readonly (Cell | undefined)[]): Vector {
  const isNull = (cell: Cell | undefined) => cell === undefined || (!cell.quoted && cell.value === '');
  let numbers = true;
  let booleans = true;
  let present = false;
  for (const cell of cells) {
    if (isNull(cell)) continue;
    present = true;
    if (cell!.quoted || !NUMBER.test(cell!.value)) numbers = false;
    if (cell!.quoted || !BOOLEAN.test(cell!.value)) booleans = false;
    if (!numbers && !booleans) break;
  }
  if (present && numbers) return vectorFromArray(cells.map((c) => (isNull(c) ? null : Number(c!.value))), new Float64());
  if (present && booleans) return vectorFromArray(cells.map((c) => (isNull(c) ? null : c!.value === 'true')), new Bool());
  return vectorFromArray(cells.map((c) => (isNull(c) ? null : c!.value)), new Utf8());
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
