/**
 * The csv backend: a table is one CSV file, the stack's key ['csv', table]
 * (under file(), the file csv/<table>), written by csv-stringify and read by
 * csv-parse. The first write writes the header; later writes append rows in
 * the header's column order.
 *
 * Types survive the round trip through quoting: strings that would read back
 * as something else (a number, true/false, an empty string) are written
 * quoted, and on reading a column is numeric (Float64) or boolean only when
 * every value in it is unquoted and looks like one; an unquoted empty field
 * is null, a quoted empty one the empty string.
 */
import { LaminateError } from '@laminate/core/layer';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { Bool, Float64, type Table, Utf8, vectorFromArray } from 'apache-arrow';
import { type Backend, type Context, nameList, notFound, type Options, optionalString, unknownCommand } from './backend.js';
import { checkColumns, compile, matchingRows, parseExpression } from './expression.js';
import { columnReaders, describeSchema, tableOf, takeRows, valuesOf } from './frames.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^NaN$|^[+-]?Infinity$/;
const BOOLEAN = /^(?:true|false)$/;
/** Bytes read to find the header of an existing file before appending to it. */
const HEAD_BYTES = 65_536;

interface Cell {
  value: string;
  quoted: boolean;
}

export class CsvBackend implements Backend {
  constructor(private readonly context: Context) {}

  private key(table: string): string[] {
    return ['csv', table];
  }

  /** A CSV table needs no create; `create` with `{ columns }` writes the header of an empty file. */
  async create(table: string, attrs: Options): Promise<void> {
    const columns = nameList(attrs.columns, 'create(csv) attrs.columns');
    if (columns === undefined) return;
    await this.context.stack.withLock(async () => {
      if ((await this.header(table)) !== undefined) return;
      await this.context.stack.append([[this.key(table), Buffer.from(stringify([columns]))]]);
    });
  }

  /** The header of the table's file, or undefined for no file. */
  private async header(table: string): Promise<string[] | undefined> {
    const stack = this.context.stack as { readRanges?: (ranges: { key: string[]; offset: number; length: number }[]) => Promise<Uint8Array[]> };
    let head = stack.readRanges ? (await stack.readRanges([{ key: this.key(table), offset: 0, length: HEAD_BYTES }]))[0] : await this.context.stack.get(this.key(table));
    if (head.byteLength === 0) return undefined;
    if (head.byteLength === HEAD_BYTES) head = await this.context.stack.get(this.key(table));
    const [first] = parse(Buffer.from(head), { to_line: 1, bom: true }) as string[][];
    return first;
  }

  async write(table: string, data: Table, opts: Options): Promise<void> {
    void opts;
    const names = data.schema.fields.map((f) => f.name);
    await this.context.stack.withLock(async () => {
      const header = await this.header(table);
      let columns = names;
      if (header !== undefined) {
        const missing = header.filter((c) => !names.includes(c));
        const extra = names.filter((c) => !header.includes(c));
        if (missing.length > 0 || extra.length > 0) {
          throw new LaminateError('ERR_SCHEMA', `write(csv, "${table}"): the file's columns are ${header.map((c) => `"${c}"`).join(', ')}; this write ${[missing.length > 0 ? `lacks ${missing.map((c) => `"${c}"`).join(', ')}` : '', extra.length > 0 ? `adds ${extra.map((c) => `"${c}"`).join(', ')}` : ''].filter(Boolean).join(' and ')}.`);
        }
        columns = header;
      }
      const values = columns.map((name) => valuesOf(data.getChild(name)!));
      const rows = Array.from({ length: data.numRows }, (_, i) => values.map((column) => column[i]));
      const text = stringify(header === undefined ? [columns, ...rows] : rows, {
        cast: {
          boolean: (value) => (value ? 'true' : 'false'),
          number: (value) => String(value),
          // A string that would read back as a number, a boolean or a null is quoted.
          string: (value) => (value === '' ? { value, quoted_empty: true } : NUMBER.test(value) || BOOLEAN.test(value) ? { value, quoted: true } : value),
        },
      });
      if (text.length > 0) await this.context.stack.append([[this.key(table), Buffer.from(text)]]);
    });
  }

  /** The whole file as a Table, the types read from the values (see the module comment). */
  private async load(table: string): Promise<Table> {
    const bytes = await this.context.stack.get(this.key(table));
    if (bytes.byteLength === 0) throw notFound('csv', table, 'Write rows to it first (a CSV table is made by its first write).');
    let records: Cell[][];
    try {
      records = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        cast: (value, context) => ({ value, quoted: context.quoting }),
        bom: true,
      }) as unknown as Cell[][];
    } catch (error) {
      throw new LaminateError('ERR_CORRUPT_FRAME', `The CSV file of table "${table}" does not parse: ${(error as Error).message}`, { cause: error });
    }
    const [header, ...rows] = records;
    return tableOf(header.map((name, k) => [name.value, columnOf(rows.map((row) => row[k]))] as const));
  }

  async read(table: string, opts: Options): Promise<Table> {
    const filter = optionalString(opts.filter, 'read(csv) filter');
    const expr = filter === undefined ? undefined : parseExpression(filter, `read(csv, "${table}") filter`);
    const columns = nameList(opts.columns, 'read(csv) columns');
    return this.context.stack.withLock(async () => {
      const all = await this.load(table);
      const names = all.schema.fields.map((f) => f.name);
      const unknown = (columns ?? []).filter((c) => !names.includes(c));
      if (unknown.length > 0) throw new LaminateError('ERR_SCHEMA', `read(csv, "${table}"): there is no column ${unknown.map((c) => `"${c}"`).join(', ')}; the columns are ${names.map((c) => `"${c}"`).join(', ')}.`);
      let result = all;
      if (expr) {
        checkColumns(expr, names, `read(csv, "${table}") filter`);
        result = takeRows(all, matchingRows(compile(expr.node, columnReaders(all)), all.numRows));
      }
      return columns === undefined ? result : result.select(columns);
    });
  }

  async delete(table: string, opts: Options): Promise<void> {
    const filter = optionalString(opts.filter, 'delete(csv) filter');
    const expr = filter === undefined ? undefined : parseExpression(filter, `delete(csv, "${table}") filter`);
    await this.context.stack.withLock(async () => {
      if (expr === undefined) {
        await this.context.stack.delete([this.key(table)]);
        return;
      }
      const all = await this.load(table);
      checkColumns(expr, all.schema.fields.map((f) => f.name), `delete(csv, "${table}") filter`);
      const test = compile(expr.node, columnReaders(all));
      const keep: number[] = [];
      for (let i = 0; i < all.numRows; i++) if (test(i) !== true) keep.push(i);
      if (keep.length === all.numRows) return;
      const kept = takeRows(all, keep);
      await this.context.stack.delete([this.key(table)]);
      await this.write(table, kept, {});
    });
  }

  async execute(table: string, command: string): Promise<unknown> {
    if (command === 'infer' || command === 'inferschema') {
      return this.context.stack.withLock(async () => ({ columns: describeSchema((await this.load(table)).schema) }));
    }
    throw unknownCommand('csv', command, ['infer']);
  }
}

/** A column from its cells: Float64 or Bool when every present cell is an unquoted one of those, Utf8 otherwise. */
function columnOf(cells: readonly (Cell | undefined)[]) {
  let numbers = true;
  let booleans = true;
  for (const cell of cells) {
    if (cell === undefined || (!cell.quoted && cell.value === '')) continue;
    if (cell.quoted || !NUMBER.test(cell.value)) numbers = false;
    if (cell.quoted || !BOOLEAN.test(cell.value)) booleans = false;
    if (!numbers && !booleans) break;
  }
  const isNull = (cell: Cell | undefined) => cell === undefined || (!cell.quoted && cell.value === '');
  const present = cells.some((cell) => !isNull(cell));
  if (present && numbers) return vectorFromArray(cells.map((c) => (isNull(c) ? null : Number(c!.value))), new Float64());
  if (present && booleans) return vectorFromArray(cells.map((c) => (isNull(c) ? null : c!.value === 'true')), new Bool());
  return vectorFromArray(cells.map((c) => (isNull(c) ? null : c!.value)), new Utf8());
}

