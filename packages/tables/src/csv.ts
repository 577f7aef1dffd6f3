/**
 * The csv backend: a table is one CSV file, the stack's key ['csv', table]
 * (under file(), the file csv/<table>), written by csv-stringify and read by
 * csv-parse (formats.ts says how types survive the round trip). The first
 * write writes the header; later writes append rows in the header's column
 * order.
 */
import { LaminateError } from '@laminate/core/layer';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Table } from 'apache-arrow';
import { type Backend, type Context, nameList, notFound, type Options, optionalString, unknownCommand } from './backend.js';
import { checkColumns, compile, matchingRows, parseExpression } from './expression.js';
import { csvTable, csvText } from './formats.js';
import { columnReaders, describeSchema, takeRows } from './frames.js';

/** Bytes read to find the header of an existing file before appending to it. */
const HEAD_BYTES = 65_536;

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
      const text = csvText(data, columns, header === undefined);
      if (text.length > 0) await this.context.stack.append([[this.key(table), Buffer.from(text)]]);
    });
  }

  /** The whole file as a Table, the types read from the values (see formats.ts). */
  private async load(table: string): Promise<Table> {
    const bytes = await this.context.stack.get(this.key(table));
    if (bytes.byteLength === 0) throw notFound('csv', table, 'Write rows to it first (a CSV table is made by its first write).');
    return csvTable(bytes, `The CSV file of table "${table}"`);
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

