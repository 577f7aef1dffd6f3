import type { Values } from '@laminate/core/testing';
import { Dictionary, Float64, Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { typeKey } from '../src/tables.js';

/** One Dictionary type for every generated table, so the expected joins can use apache-arrow's own concat. */
const labels = new Dictionary(new Utf8(), new Int32());

function table(i: number[], x: number[], s: string[]): Table {
  return new Table({ i: vectorFromArray(i, new Int32()), x: vectorFromArray(x, new Float64()), s: vectorFromArray(s, labels) });
}

/** A JSON-able view of a table: its schema (dictionary ids aside) and its rows. */
export function view(value: Table): string {
  const fields = value.schema.fields.map((f) => `${f.name}${f.nullable ? '?' : ''}: ${typeKey(f.type)}`);
  const rows = value.toArray().map((row) => row?.toJSON());
  return JSON.stringify({ fields, rows }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

export const tableValues: Values<Table> = {
  make(n, variant = 0) {
    const rows = (n % 5) + 1;
    const i = Array.from({ length: rows }, (_, r) => n * 100 + r);
    const x = Array.from({ length: rows }, (_, r) => variant + r / 8);
    const s = Array.from({ length: rows }, (_, r) => `label-${(n + r) % 4}-${variant}`);
    return table(i, x, s);
  },
  joined: (values) => (values.length === 0 ? new Table() : new Table(values.flatMap((t) => t.batches))),
  wrong: ['text', 42, null, undefined, { a: 1 }, [1, 2], Buffer.from('x'), new Float64Array(2)],
  large(bytes) {
    const rows = Math.ceil(bytes / 16);
    return table(
      Array.from({ length: rows }, (_, r) => r),
      Array.from({ length: rows }, (_, r) => r * 0.5),
      Array.from({ length: rows }, (_, r) => `s${r % 16}`),
    );
  },
  comparable: view,
};
