/**
 * Queries: which episodes match, and what find() tells about each. A query
 * starts from the smallest candidate set an in-memory index gives (ids, a
 * field's hash index, the sorted time field) and tests the rest of its
 * conditions on those only.
 */
import { typeError } from '@laminate/core/layer';
import type { PoolIndex } from './index-replay.js';
import { type Entry, fieldOf } from './layout.js';
import type { PoolSchema } from './schema.js';

/** A range of values: from (inclusive) to (exclusive); either end may be left open. */
export interface Range {
  from?: number | Date;
  to?: number | Date;
}

/**
 * Which episodes: every field given must match. A value matches by equality,
 * an array by membership, a { from, to } range by from ≤ value < to (numbers
 * and times). `id` selects by episode id; the other names are the pool's
 * declared metadata fields.
 */
export type Query = {
  id?: number | readonly number[];
} & Record<string, unknown>;

/** One episode's metadata, as find() returns it: its id, its number of steps, and the declared fields (times as Dates). */
export interface EpisodeMeta {
  id: number;
  /** Number of timesteps. */
  steps: number;
  [field: string]: unknown;
}

export function metaOf(schema: PoolSchema, entry: Entry): EpisodeMeta {
  const meta: EpisodeMeta = { id: entry.id, steps: entry.steps };
  for (const { name, type } of schema.metadata) {
    const value = entry.fields[name];
    meta[name] = type === 'timestamp' && typeof value === 'number' ? new Date(value) : value;
  }
  return meta;
}

const asNumber = (v: unknown) => (v instanceof Date ? v.getTime() : v);

/** The entries matching `query`, in id order (call with the index fresh). */
export function match(index: PoolIndex, query: Query | undefined): Entry[] {
  if (query === undefined || query === null) return index.live;
  const schema = index.schema;
  if (typeof query !== 'object' || Array.isArray(query)) throw typeError('ERR_INVALID_OPTION', `A query is an object of field → value, [values] or { from, to }, such as { ${schema.time}: { from: new Date("2024-01-01") } }.`);
  const tests: ((e: Entry) => boolean)[] = [];
  let candidates: Iterable<Entry> = index.live;
  let candidateCount = index.live.length;
  let ordered = true;
  // Keep the smallest candidate set any condition offers.
  const narrow = (entries: Iterable<Entry>, count: number, inIdOrder: boolean) => {
    if (count < candidateCount) {
      candidates = entries;
      candidateCount = count;
      ordered = inIdOrder;
    }
  };
  for (const [name, condition] of Object.entries(query)) {
    if (condition === undefined) continue;
    const field = name === 'id' ? { name: 'id', type: 'int32' as const } : schema.metadata.find((m) => m.name === name);
    if (!field) throw typeError('ERR_INVALID_OPTION', `The query names "${name}", which is not a metadata field of this pool; its fields are id, ${schema.metadata.map((m) => m.name).join(', ')}.`);
    // Times have no hash index: they are rarely asked for by equality.
    const hashed = field.type !== 'timestamp';
    if (Array.isArray(condition)) {
      const values = new Set(condition.map(asNumber));
      tests.push((e) => values.has(fieldOf(e, name)));
      if (name === 'id') {
        const found = [...values].map((v) => index.entries.get(v as number)).filter((e): e is Entry => e !== undefined);
        narrow(found.sort((a, b) => a.id - b.id), found.length, true);
      } else if (hashed) {
        const sets = [...values].map((v) => index.withValue(name, v)).filter((s): s is Set<Entry> => s !== undefined);
        const count = sets.reduce((n, s) => n + s.size, 0);
        if (count < candidateCount) narrow(sets.flatMap((s) => [...s]), count, sets.length <= 1);
      }
    } else if (condition !== null && typeof condition === 'object' && !(condition instanceof Date)) {
      const { lo, hi } = rangeOf(name, field.type, condition);
      tests.push((e) => {
        const v = fieldOf(e, name) as number;
        return v >= lo && v < hi;
      });
      if (name === schema.time) {
        const found = index.between(lo, hi);
        narrow(found, found.length, false);
      }
    } else {
      const value = asNumber(condition);
      tests.push((e) => fieldOf(e, name) === value);
      if (name === 'id') {
        const e = index.entries.get(value as number);
        narrow(e ? [e] : [], e ? 1 : 0, true);
      } else if (hashed) {
        const set = index.withValue(name, value);
        narrow(set ?? [], set?.size ?? 0, true);
      }
    }
  }
  const out: Entry[] = [];
  for (const e of candidates) if (tests.every((t) => t(e))) out.push(e);
  if (!ordered) out.sort((a, b) => a.id - b.id);
  return out;
}

/** A { from, to } condition as numbers, or ERR_INVALID_OPTION saying what a range takes. */
function rangeOf(name: string, type: string, condition: object): { lo: number; hi: number } {
  const { from, to, ...other } = condition as Range;
  if (Object.keys(other).length > 0 || (from === undefined && to === undefined)) throw typeError('ERR_INVALID_OPTION', `The range for "${name}" takes { from, to } (from included, to excluded); got keys ${Object.keys(condition).join(', ')}.`);
  if (type !== 'timestamp' && type !== 'float64' && type !== 'int32') throw typeError('ERR_INVALID_OPTION', `"${name}" is ${type}: a range applies to numbers and times only.`);
  const lo = from === undefined ? -Infinity : asNumber(from);
  const hi = to === undefined ? Infinity : asNumber(to);
  if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi)) throw typeError('ERR_INVALID_OPTION', `The range for "${name}" takes numbers or Dates.`);
  return { lo, hi };
}
