/**
 * The kv backend: rows keyed by an index column, appended column by column
 * through arrowColumns() so a read of some columns reads only those. A later
 * write of an index value replaces the earlier row when read (last write
 * wins: each read keeps, per index value, the last row appended).
 *
 * Appends only grow the data, so the table is compacted (rewritten with its
 * live rows only, see layout.ts) when the rows this process has written since
 * its last check reach `compactEvery` and more than half the stored rows are
 * superseded; deletes by filter rewrite it the same way.
 */
import { arrowColumns } from '@laminate/arrow';
import { LaminateError, typeError } from '@laminate/core/layer';
import { type DataType, type Table, Type, type Vector, vectorFromArray } from 'apache-arrow';
import { type Backend, type Context, nameList, notFound, type Options, optionalString, unknownCommand } from './backend.js';
import { checkColumns, compile, expressionError, matchingRows, parseExpression, parseUpdate } from './expression.js';
import { columnReaders, describeSchema, jsValue, tableOf, takeRows } from './frames.js';
import { Generations, deleteAttrs, readAttrs, writeAttrs } from './layout.js';

interface KvAttrs {
  index: string;
  columns: string[];
}

export class KvBackend implements Backend {
  /** Rows written by this process per table since its last compaction check. */
  private readonly written = new Map<string, number>();

  constructor(private readonly context: Context) {}

  private base(table: string): string[] {
    return ['kv', table];
  }

  private data(table: string): Generations {
    return new Generations(this.context.stack, arrowColumns(this.context.stack), this.base(table));
  }

  private async attrs(table: string): Promise<KvAttrs> {
    const attrs = await readAttrs<KvAttrs>(this.context.stack, this.base(table));
    if (attrs === undefined) throw notFound('kv', table, 'Write rows to it first (a kv table is made by its first write).');
    return attrs;
  }

  private lock<T>(fn: () => Promise<T>): Promise<T> {
    return this.context.stack.withLock(fn);
  }

  /** kv tables need no create; `create` with `{ index }` fixes the index column ahead of the first write. */
  async create(table: string, attrs: Options): Promise<void> {
    const index = optionalString(attrs.index, 'create(kv) attrs.index');
    if (index === undefined) return;
    await this.lock(async () => {
      const known = await readAttrs<KvAttrs>(this.context.stack, this.base(table));
      if (known !== undefined && known.index !== index) throw typeError('ERR_INVALID_OPTION', `kv table "${table}" is indexed by "${known.index}", not "${index}".`);
      if (known === undefined) await writeAttrs(this.context.stack, this.base(table), { index, columns: [] });
    });
  }

  async write(table: string, data: Table, opts: Options): Promise<void> {
    if (data.numRows === 0) return;
    const asked = optionalString(opts.index, 'write(kv) index');
    await this.lock(async () => {
      const known = await readAttrs<KvAttrs>(this.context.stack, this.base(table));
      const index = asked ?? known?.index;
      if (index === undefined) throw typeError('ERR_INVALID_OPTION', `write(kv, "${table}") needs { index: 'column' }: the column whose value keys each row.`);
      if (known !== undefined && known.index !== index) throw typeError('ERR_INVALID_OPTION', `kv table "${table}" is indexed by "${known.index}"; write with { index: "${known.index}" } or leave index out.`);
      const names = data.schema.fields.map((f) => f.name);
      if (!names.includes(index)) throw new LaminateError('ERR_SCHEMA', `write(kv, "${table}"): the data has no index column "${index}"; its columns are ${names.map((n) => `"${n}"`).join(', ')}.`);
      const column = data.getChild(index)!;
      if (column.nullCount > 0) throw typeError('ERR_VALUE_TYPE', `write(kv, "${table}"): the index column "${index}" holds nulls; every row needs an index value.`);
      let rows = data;
      if (known !== undefined && known.columns.length > 0) {
        const missing = known.columns.filter((c) => !names.includes(c));
        const extra = names.filter((c) => !known.columns.includes(c));
        if (missing.length > 0 || extra.length > 0) {
          throw new LaminateError(
            'ERR_SCHEMA',
            `write(kv, "${table}"): the table's columns are ${known.columns.map((c) => `"${c}"`).join(', ')}; this write ${[missing.length > 0 ? `lacks ${missing.map((c) => `"${c}"`).join(', ')}` : '', extra.length > 0 ? `adds ${extra.map((c) => `"${c}"`).join(', ')}` : ''].filter(Boolean).join(' and ')}. Write every column (null where a row has no value).`,
          );
        }
        rows = data.select(known.columns);
      } else {
        await writeAttrs(this.context.stack, this.base(table), { index, columns: names });
      }
      await this.data(table).append(rows);
      const written = (this.written.get(table) ?? 0) + rows.numRows;
      this.written.set(table, written);
      if (written >= this.context.compactEvery) {
        this.written.set(table, 0);
        await this.compactIfWorth(table, index);
      }
    });
  }

  /** Compacts when more than half the stored rows are superseded; returns whether it did. */
  private async compactIfWorth(table: string, index: string): Promise<boolean> {
    const keys = await this.data(table).read([index]);
    const live = lastWins(keys, index).length;
    if (keys.numRows <= 2 * live) return false;
    await this.compact(table, index);
    return true;
  }

  private async compact(table: string, index: string): Promise<{ before: number; after: number }> {
    const data = this.data(table);
    const all = await data.read();
    const kept = takeRows(all, lastWins(all, index));
    await data.replace(kept);
    return { before: all.numRows, after: kept.numRows };
  }

  async read(table: string, opts: Options): Promise<Table> {
    const filter = optionalString(opts.filter, 'read(kv) filter');
    const expr = filter === undefined ? undefined : parseExpression(filter, `read(kv, "${table}") filter`);
    const columns = nameList(opts.columns, 'read(kv) columns');
    return this.lock(async () => {
      const attrs = await this.attrs(table);
      const wanted = columns ?? attrs.columns;
      const unknown = wanted.filter((c) => !attrs.columns.includes(c));
      if (unknown.length > 0) throw new LaminateError('ERR_SCHEMA', `read(kv, "${table}"): there is no column ${unknown.map((c) => `"${c}"`).join(', ')}; the columns are ${attrs.columns.map((c) => `"${c}"`).join(', ')}.`);
      if (expr) checkColumns(expr, attrs.columns, `read(kv, "${table}") filter`);
      const need = [...new Set([attrs.index, ...wanted, ...(expr?.columns.keys() ?? [])])];
      const stored = await this.data(table).read(need);
      if (stored.numRows === 0) return stored;
      let rows = lastWins(stored, attrs.index);
      // Every row live, in stored order (a compacted table): nothing to gather unless a filter drops some.
      if (!expr && rows.length === stored.numRows) return stored.select(wanted);
      if (expr) {
        const readers = columnReaders(stored);
        const test = compile(expr.node, readers);
        const keep = matchingRows((i) => test(rows[i]), rows.length);
        rows = Array.from(keep, (i) => rows[i]);
      }
      return takeRows(stored.select(wanted), rows);
    });
  }

  async delete(table: string, opts: Options): Promise<void> {
    const filter = optionalString(opts.filter, 'delete(kv) filter');
    const expr = filter === undefined ? undefined : parseExpression(filter, `delete(kv, "${table}") filter`);
    await this.lock(async () => {
      const attrs = await readAttrs<KvAttrs>(this.context.stack, this.base(table));
      if (attrs === undefined) return;
      const data = this.data(table);
      if (expr === undefined) {
        await data.remove();
        await deleteAttrs(this.context.stack, this.base(table));
        this.written.delete(table);
        return;
      }
      checkColumns(expr, attrs.columns, `delete(kv, "${table}") filter`);
      const all = await data.read();
      if (all.numRows === 0) return;
      const live = lastWins(all, attrs.index);
      const test = compile(expr.node, columnReaders(all));
      const kept = Array.from(live).filter((row) => test(row) !== true);
      await data.replace(takeRows(all, kept));
    });
  }

  async execute(table: string, command: string, args: Options): Promise<unknown> {
    switch (command) {
      case 'update':
        return this.update(table, args);
      case 'infer':
      case 'inferschema':
        return this.lock(async () => {
          const attrs = await this.attrs(table);
          const all = await this.data(table).read();
          return { index: attrs.index, columns: describeSchema(all.schema) };
        });
      case 'compact':
        return this.lock(async () => this.compact(table, (await this.attrs(table)).index));
      default:
        throw unknownCommand('kv', command, ['update', 'infer', 'compact']);
    }
  }

  /**
   * execute('update', { key, expression, condition }): sets columns of the row
   * keyed `key` from `expression` (`a = a + 1; b = "x"`, every right side read
   * from the row before the update), when `condition` holds for that row. A
   * key with no row gets a new one (its other columns null) unless a
   * condition is given, which a missing row never meets.
   */
  private async update(table: string, args: Options): Promise<{ updated: boolean }> {
    const key = args.key;
    if (typeof key !== 'string' && typeof key !== 'number') throw typeError('ERR_INVALID_OPTION', `execute(kv, "${table}", 'update') needs args.key, the index value of the row (a string or a number).`);
    const text = optionalString(args.expression, 'update args.expression');
    if (text === undefined) throw typeError('ERR_INVALID_OPTION', `execute(kv, "${table}", 'update') needs args.expression, such as "count = count + 1".`);
    const update = parseUpdate(text, `update(kv, "${table}") expression`);
    const conditionText = optionalString(args.condition, 'update args.condition');
    const condition = conditionText === undefined ? undefined : parseExpression(conditionText, `update(kv, "${table}") condition`);
    return this.lock(async () => {
      const attrs = await this.attrs(table);
      checkColumns(update, attrs.columns, `update(kv, "${table}") expression`);
      if (condition) checkColumns(condition, attrs.columns, `update(kv, "${table}") condition`);
      for (const a of update.assignments) {
        if (a.column === attrs.index) throw expressionError('ERR_INVALID_OPTION', `update(kv, "${table}") expression`, text, a.at, `"${a.column}" is the index column`, 'An update changes a row, not its key; write a new row to re-key it.');
      }
      const all = await this.data(table).read();
      if (all.numCols === 0) throw notFound('kv', table, 'Write rows to it before updating them.');
      const readers = columnReaders(all);
      const readIndex = readers.get(attrs.index)!;
      let row = -1;
      for (let i = all.numRows - 1; i >= 0; i--) {
        if (readIndex(i) === key) {
          row = i;
          break;
        }
      }
      if (condition && (row < 0 || compile(condition.node, readers)(row) !== true)) return { updated: false };
      const record = new Map<string, unknown>();
      for (const name of attrs.columns) record.set(name, row < 0 ? null : jsValue(readers.get(name)!(row)));
      record.set(attrs.index, key);
      const values = update.assignments.map((a) => (row < 0 ? compile(a.value, new Map())(0) : compile(a.value, readers)(row)));
      update.assignments.forEach((a, k) => record.set(a.column, values[k]));
      const fields = all.schema.fields;
      const one = tableOf(
        fields.map((field) => {
          const value = record.get(field.name);
          const at = update.assignments.find((a) => a.column === field.name)?.at;
          if (!fits(value, field.type)) {
            if (at !== undefined) throw expressionError('ERR_INVALID_OPTION', `update(kv, "${table}") expression`, text, at, `the value ${JSON.stringify(value)} does not fit column "${field.name}" (${String(field.type)})`, 'Assign a value of the column\'s type.');
            throw typeError('ERR_VALUE_TYPE', `update(kv, "${table}"): key ${JSON.stringify(key)} does not fit the index column "${field.name}" (${String(field.type)}).`);
          }
          return [field.name, vectorFromArray([typeof value === 'number' && isBig(field.type) ? BigInt(Math.trunc(value)) : value], field.type)] as const;
        }),
      );
      await this.data(table).append(one);
      return { updated: true };
    });
  }
}

function isBig(type: DataType): boolean {
  return type.typeId === Type.Int && (type as unknown as { bitWidth: number }).bitWidth === 64;
}

/** Whether a JS value can be stored in a column of `type`. */
function fits(value: unknown, type: DataType): boolean {
  if (value === null) return true;
  switch (type.typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Timestamp:
    case Type.Date:
      return typeof value === 'number';
    case Type.Bool:
      return typeof value === 'boolean';
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Dictionary:
      return typeof value === 'string';
    default:
      return false;
  }
}

/**
 * The row numbers that hold each index value's last write, in the order the
 * index values were first written.
 */
export function lastWins(table: Table, index: string): number[] {
  const column = table.getChild(index);
  if (column === null) return [];
  if (column.type.typeId === Type.Utf8 && column.nullCount === 0) return lastWinsBytes(column);
  const last = new Map<unknown, number>();
  const read = columnReaders(table.select([index])).get(index)!;
  for (let i = 0; i < table.numRows; i++) last.set(read(i), i);
  return [...last.values()];
}

/**
 * lastWins for a Utf8 index: an open-addressing hash table over the values'
 * bytes (FNV-1a), compared byte for byte on a collision, so no string is
 * decoded or allocated per row.
 */
function lastWinsBytes(column: Vector): number[] {
  const n = column.length;
  const rowBytes: Uint8Array[] = new Array(column.data.length);
  const chunkOf = new Int32Array(n);
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  let row = 0;
  column.data.forEach((data, c) => {
    rowBytes[c] = data.values as Uint8Array;
    const offsets = data.valueOffsets as Int32Array;
    for (let i = 0; i < data.length; i++, row++) {
      chunkOf[row] = c;
      starts[row] = offsets[i];
      ends[row] = offsets[i + 1];
    }
  });
  let capacity = 16;
  while (capacity < n * 2) capacity *= 2;
  const mask = capacity - 1;
  const slotFirst = new Int32Array(capacity).fill(-1);
  const slotLast = new Int32Array(capacity);
  const order = new Int32Array(n);
  let distinct = 0;
  for (let r = 0; r < n; r++) {
    const bytes = rowBytes[chunkOf[r]];
    const start = starts[r];
    const end = ends[r];
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    let slot = h & mask;
    for (;;) {
      const first = slotFirst[slot];
      if (first < 0) {
        slotFirst[slot] = r;
        slotLast[slot] = r;
        order[distinct++] = slot;
        break;
      }
      if (sameBytes(rowBytes[chunkOf[first]], starts[first], ends[first], bytes, start, end)) {
        slotLast[slot] = r;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  const out: number[] = new Array(distinct);
  for (let k = 0; k < distinct; k++) out[k] = slotLast[order[k]];
  return out;
}

function sameBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}
