/**
 * The tsdb backend: samples appended per series, a series being one metric
 * under one set of labels. Each series is a rewritable piece (layout.ts)
 * under ['tsdb', table, 's', metric, labels] holding Arrow tables of two
 * Float64 columns, `time` (epoch ms) and `value`, one per write, through
 * arrow(). Writes may arrive in any time order; reads select by time.
 *
 * Aggregation reads each series' two columns as Float64Arrays and folds the
 * samples straight into per-window accumulators (count, sum, min, max, last),
 * never building a row object. NaN samples are skipped by every aggregator
 * (count counts the others); a window with no sample left gives no row.
 * `last` is the value with the latest time (on a tie, the later-stored one).
 */
import { arrow } from '@laminate/arrow';
import { LaminateError, typeError } from '@laminate/core/layer';
import { type Table, Type, Utf8, vectorFromArray } from 'apache-arrow';
import { type Backend, type Context, nameList, notFound, type Options, optionalString, unknownCommand } from './backend.js';
import { compile, parseExpression } from './expression.js';
import { floats, jsValue, tableOf } from './frames.js';
import { Generations, deleteAttrs, listPieces, readAttrs, readPieces, writeAttrs } from './layout.js';
import { parseDuration, parseRate, parseTime } from './time.js';

export const AGGREGATORS = ['avg', 'max', 'min', 'sum', 'count', 'last'] as const;
export type Aggregator = (typeof AGGREGATORS)[number];

/** Up to this many windows in [start, end], accumulators cover them all and aggregation is one pass. */
const DIRECT_WINDOWS = 65_536;
/** The most windows one read may fill per group; a finer step over a longer range is refused. */
const MAX_WINDOWS = 10_000_000;

interface TsdbAttrs {
  rate: string;
}

interface Series {
  metric: string;
  labels: Record<string, string>;
  base: string[];
}

export class TsdbBackend implements Backend {
  constructor(private readonly context: Context) {}

  private base(table: string): string[] {
    return ['tsdb', table];
  }

  private piece(base: readonly string[]): Generations {
    return new Generations(this.context.stack, arrow(this.context.stack), base);
  }

  private async attrs(table: string): Promise<TsdbAttrs> {
    const attrs = await readAttrs<TsdbAttrs>(this.context.stack, this.base(table));
    if (attrs === undefined) throw notFound('tsdb', table, `Create it first: create('tsdb', '${table}', { rate: '1/s' }).`);
    return attrs;
  }

  async create(table: string, attrs: Options): Promise<void> {
    if (attrs.rate === undefined) throw typeError('ERR_INVALID_OPTION', `create('tsdb', '${table}') needs attrs.rate, the expected sample rate, such as "1/s" or "12/m".`);
    parseRate(attrs.rate, 'create(tsdb) attrs.rate');
    await this.context.stack.withLock(async () => {
      const known = await readAttrs<TsdbAttrs>(this.context.stack, this.base(table));
      if (known !== undefined) {
        if (known.rate === attrs.rate) return;
        throw typeError('ERR_INVALID_OPTION', `tsdb table "${table}" exists with rate ${known.rate}; delete it first to create it with rate ${String(attrs.rate)}.`);
      }
      await writeAttrs(this.context.stack, this.base(table), { rate: attrs.rate });
    });
  }

  /**
   * Writes a table of samples: a time column (`index`, default "time": epoch
   * ms, Dates or ISO strings), string columns as labels of each row, every
   * numeric or boolean column a metric; `labels` adds labels to every row.
   */
  async write(table: string, data: Table, opts: Options): Promise<void> {
    const timeName = optionalString(opts.index, 'write(tsdb) index') ?? 'time';
    const fixed = labelsOption(opts.labels);
    const names = data.schema.fields.map((f) => f.name);
    const timeColumn = data.getChild(timeName);
    if (timeColumn === null) throw new LaminateError('ERR_SCHEMA', `write(tsdb, "${table}"): the data has no time column "${timeName}"; its columns are ${names.map((n) => `"${n}"`).join(', ')}. Name it with { index: 'column' }.`);
    const rows = data.numRows;
    const times = new Float64Array(rows);
    for (let i = 0; i < rows; i++) times[i] = parseTime(jsValue(timeColumn.get(i)), `write(tsdb, "${table}") time at row ${i}`);
    const labelColumns: string[] = [];
    const metricColumns: string[] = [];
    for (const field of data.schema.fields) {
      if (field.name === timeName) continue;
      const id = field.type.typeId;
      if (id === Type.Utf8 || id === Type.LargeUtf8 || id === Type.Dictionary) labelColumns.push(field.name);
      else if (id === Type.Int || id === Type.Float || id === Type.Bool) metricColumns.push(field.name);
      else throw new LaminateError('ERR_SCHEMA', `write(tsdb, "${table}"): column "${field.name}" is ${String(field.type)}; tsdb columns are the time, string labels and numeric or boolean metrics.`);
    }
    // Rows grouped by their label set.
    const groups = new Map<string, number[]>();
    const labelVectors = labelColumns.map((name) => data.getChild(name)!);
    for (let i = 0; i < rows; i++) {
      const labels: Record<string, string> = { ...fixed };
      labelColumns.forEach((name, k) => {
        const value = labelVectors[k].get(i);
        if (value !== null && value !== undefined) labels[name] = String(value);
      });
      const key = labelKey(labels);
      let list = groups.get(key);
      if (!list) groups.set(key, (list = []));
      list.push(i);
    }
    await this.context.stack.withLock(async () => {
      await this.attrs(table);
      for (const metric of metricColumns) {
        const column = data.getChild(metric)!;
        for (const [key, list] of groups) {
          const t = new Float64Array(list.length);
          const v = new Float64Array(list.length);
          list.forEach((row, k) => {
            t[k] = times[row];
            const value = jsValue(column.get(row));
            v[k] = value === null ? NaN : Number(value);
          });
          const piece = this.piece([...this.base(table), 's', metric, key]);
          await piece.ensure();
          await piece.append(tableOf([['time', floats(t)], ['value', floats(v)]]));
        }
      }
    });
  }

  private async series(table: string): Promise<Series[]> {
    const pieces = await listPieces(this.context.stack, [...this.base(table), 's']);
    return pieces
      .filter((base) => base.length === 5)
      .map((base) => ({ metric: base[3], labels: JSON.parse(base[4]) as Record<string, string>, base }))
      .sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : a.base[4] < b.base[4] ? -1 : a.base[4] > b.base[4] ? 1 : 0));
  }

  async read(table: string, opts: Options): Promise<Table> {
    const now = this.context.now();
    const start = opts.start === undefined ? 0 : parseTime(opts.start, 'read(tsdb) start', now);
    const end = opts.end === undefined ? now : parseTime(opts.end, 'read(tsdb) end', now);
    const step = opts.step === undefined ? undefined : parseDuration(opts.step, 'read(tsdb) step');
    const aggregators = nameList(opts.aggregators, 'read(tsdb) aggregators')?.map((a) => a.toLowerCase());
    for (const a of aggregators ?? []) {
      if (!(AGGREGATORS as readonly string[]).includes(a)) throw typeError('ERR_INVALID_OPTION', `read(tsdb) aggregators: unknown aggregator "${a}"; the aggregators are ${AGGREGATORS.join(', ')}.`);
    }
    if (step !== undefined && aggregators === undefined) throw typeError('ERR_INVALID_OPTION', 'read(tsdb): step windows need aggregators, such as { step: "1h", aggregators: "avg,max" }.');
    const groupBy = nameList(opts.groupBy ?? opts.group_by, 'read(tsdb) groupBy');
    if (groupBy !== undefined && aggregators === undefined) throw typeError('ERR_INVALID_OPTION', 'read(tsdb): groupBy needs aggregators.');
    const metrics = nameList(opts.columns ?? opts.metrics, 'read(tsdb) columns');
    const filterText = optionalString(opts.filter, 'read(tsdb) filter');
    const filter = filterText === undefined ? undefined : parseExpression(filterText, `read(tsdb, "${table}") filter`);
    return this.context.stack.withLock(async () => {
      await this.attrs(table);
      let series = await this.series(table);
      if (metrics) series = series.filter((s) => metrics.includes(s.metric));
      if (filter) {
        series = series.filter((s) => {
          const readers = new Map<string, (row: number) => unknown>(Object.entries(s.labels).map(([k, v]) => [k, () => v]));
          readers.set('__name__', () => s.metric);
          return compile(filter.node, readers)(0) === true;
        });
      }
      const loaded: Loaded[] = [];
      const stored = await readPieces(this.context.stack, arrow(this.context.stack), series.map((s) => s.base));
      series.forEach((s, i) => {
        if (stored[i].numRows === 0) return;
        loaded.push({ ...s, time: stored[i].getChild('time')!.toArray() as Float64Array, value: stored[i].getChild('value')!.toArray() as Float64Array });
      });
      if (aggregators === undefined) return rawSamples(loaded, start, end);
      return aggregate(loaded, { start, end, step, aggregators: aggregators as Aggregator[], groupBy });
    });
  }

  async delete(table: string, opts: Options): Promise<void> {
    const now = this.context.now();
    const whole = opts.start === undefined && opts.end === undefined;
    const start = opts.start === undefined ? -Infinity : parseTime(opts.start, 'delete(tsdb) start', now);
    const end = opts.end === undefined ? Infinity : parseTime(opts.end, 'delete(tsdb) end', now);
    await this.context.stack.withLock(async () => {
      for (const s of await this.series(table)) {
        const piece = this.piece(s.base);
        if (whole) {
          await piece.remove();
          continue;
        }
        const stored = await piece.read();
        if (stored.numRows === 0) continue;
        const time = stored.getChild('time')!.toArray() as Float64Array;
        const value = stored.getChild('value')!.toArray() as Float64Array;
        const keep: number[] = [];
        for (let i = 0; i < time.length; i++) if (time[i] < start || time[i] > end) keep.push(i);
        if (keep.length === time.length) continue;
        await piece.replace(tableOf([['time', floats(Float64Array.from(keep, (i) => time[i]))], ['value', floats(Float64Array.from(keep, (i) => value[i]))]]));
      }
      if (whole) await deleteAttrs(this.context.stack, this.base(table));
    });
  }

  async execute(_table: string, command: string): Promise<unknown> {
    throw unknownCommand('tsdb', command, []);
  }
}

interface Loaded extends Series {
  time: Float64Array;
  value: Float64Array;
}

function labelsOption(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw typeError('ERR_INVALID_OPTION', 'write(tsdb) labels must be an object of label → string value, such as { host: "a" }.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw typeError('ERR_INVALID_OPTION', `write(tsdb) labels: label "${k}" must be a string; got ${typeof v}.`);
    out[k] = v;
  }
  return out;
}

/** A label set as text, its names sorted, so one set always makes one series key. */
function labelKey(labels: Record<string, string>): string {
  const sorted: Record<string, string> = {};
  for (const name of Object.keys(labels).sort()) sorted[name] = labels[name];
  return JSON.stringify(sorted);
}

function labelNames(series: readonly Series[]): string[] {
  return [...new Set(series.flatMap((s) => Object.keys(s.labels)))].sort();
}

/** Every sample in [start, end], series by series, each series in time order. */
function rawSamples(series: readonly Loaded[], start: number, end: number): Table {
  const names = labelNames(series);
  const time: number[] = [];
  const value: number[] = [];
  const metric: string[] = [];
  const labels = names.map(() => [] as (string | null)[]);
  for (const s of series) {
    const rows: number[] = [];
    for (let i = 0; i < s.time.length; i++) if (s.time[i] >= start && s.time[i] <= end) rows.push(i);
    rows.sort((a, b) => s.time[a] - s.time[b] || a - b);
    for (const i of rows) {
      time.push(s.time[i]);
      value.push(s.value[i]);
      metric.push(s.metric);
      names.forEach((name, k) => labels[k].push(s.labels[name] ?? null));
    }
  }
  return tableOf([
    ['time', floats(Float64Array.from(time))],
    ['metric', vectorFromArray(metric, new Utf8())],
    ...names.map((name, k) => [name, vectorFromArray(labels[k], new Utf8())] as const),
    ['value', floats(Float64Array.from(value))],
  ]);
}

interface AggregateOptions {
  start: number;
  end: number;
  step: number | undefined;
  aggregators: Aggregator[];
  groupBy: string[] | undefined;
}

/**
 * One row per group and window holding samples: a group is a metric and its
 * labels (only the groupBy labels when given); windows are [start + k·step,
 * start + (k+1)·step), or the whole range without a step.
 */
export function aggregate(series: readonly Loaded[], opts: AggregateOptions): Table {
  const { start, end, step, aggregators, groupBy } = opts;
  const names = groupBy ?? labelNames(series);
  const groups = new Map<string, { metric: string; labels: Record<string, string>; members: Loaded[] }>();
  for (const s of series) {
    const labels: Record<string, string> = {};
    for (const name of names) if (s.labels[name] !== undefined) labels[name] = s.labels[name];
    const key = JSON.stringify([s.metric, labelKey(labels)]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { metric: s.metric, labels, members: [] }));
    group.members.push(s);
  }
  // Windows are numbered from start; with no step every sample falls in window 0.
  const width = step ?? Infinity;
  // When the whole range is a modest number of windows, accumulators cover all of it and one pass
  // over the samples does; otherwise a first pass over the times finds the windows samples fall in.
  const span = step === undefined ? 1 : Number.isFinite(end - start) ? Math.floor((end - start) / width) + 1 : Infinity;
  const out = { time: [] as number[], metric: [] as string[], labels: names.map(() => [] as (string | null)[]), values: aggregators.map(() => [] as number[]) };
  const sortedKeys = [...groups.keys()].sort();
  for (const key of sortedKeys) {
    const group = groups.get(key)!;
    let lo = 0;
    let hi = span - 1;
    if (span > DIRECT_WINDOWS) {
      lo = Infinity;
      hi = -Infinity;
      for (const s of group.members) {
        const time = s.time;
        for (let i = 0; i < time.length; i++) {
          const t = time[i];
          if (t < start || t > end) continue;
          const w = step === undefined ? 0 : Math.floor((t - start) / width);
          if (w < lo) lo = w;
          if (w > hi) hi = w;
        }
      }
      if (lo > hi) continue;
    }
    const size = hi - lo + 1;
    if (size > MAX_WINDOWS) throw typeError('ERR_INVALID_OPTION', `read(tsdb): the samples span ${size} windows of the step (at most ${MAX_WINDOWS}); use a larger step or a narrower start … end.`);
    const count = new Float64Array(size);
    const sum = new Float64Array(size);
    const min = new Float64Array(size).fill(Infinity);
    const max = new Float64Array(size).fill(-Infinity);
    const last = new Float64Array(size);
    const lastTime = new Float64Array(size).fill(-Infinity);
    for (const s of group.members) {
      const time = s.time;
      const value = s.value;
      for (let i = 0; i < time.length; i++) {
        const t = time[i];
        const v = value[i];
        if (t < start || t > end || v !== v) continue;
        const w = (step === undefined ? 0 : Math.floor((t - start) / width)) - lo;
        count[w]++;
        sum[w] += v;
        if (v < min[w]) min[w] = v;
        if (v > max[w]) max[w] = v;
        if (t >= lastTime[w]) {
          lastTime[w] = t;
          last[w] = v;
        }
      }
    }
    for (let w = 0; w < size; w++) {
      if (count[w] === 0) continue;
      out.time.push(step === undefined ? start : start + (lo + w) * step);
      out.metric.push(group.metric);
      names.forEach((name, k) => out.labels[k].push(group.labels[name] ?? null));
      aggregators.forEach((a, k) => {
        const column = out.values[k];
        if (a === 'avg') column.push(sum[w] / count[w]);
        else if (a === 'sum') column.push(sum[w]);
        else if (a === 'count') column.push(count[w]);
        else if (a === 'min') column.push(min[w]);
        else if (a === 'max') column.push(max[w]);
        else column.push(last[w]);
      });
    }
  }
  return tableOf([
    ['time', floats(Float64Array.from(out.time))],
    ['metric', vectorFromArray(out.metric, new Utf8())],
    ...names.map((name, k) => [name, vectorFromArray(out.labels[k], new Utf8())] as const),
    ...aggregators.map((a, k) => [a, floats(Float64Array.from(out.values[k]))] as const),
  ]);
}
