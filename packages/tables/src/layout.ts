/**
 * How tables lay their data out in the stack's keys, and the two small
 * mechanisms every backend shares.
 *
 * Keys are tuples under the backend and table name, so under file() each
 * table is a folder: `kv/users/.attrs`, `kv/users/g/3/<column>`, …
 *
 * - Attributes (`[…table, '.attrs']`): one JSON object per line, appended;
 *   the last line is the table's attributes. Appending a line is the one
 *   write a crash cannot leave half-done for a reader (a torn last line is
 *   skipped), so changing attributes never loses the old ones.
 *
 * - Generations: data a backend must sometimes rewrite (kv compaction and
 *   deletes by filter, tsdb deletes by time, stream retention) lives under
 *   `[…base, 'g', N]`, and `[…base, '.gen']` holds N the same way attributes
 *   do. A rewrite writes generation N+1 whole, then appends N+1 to the
 *   pointer, then deletes generation N: a crash before the pointer moves
 *   leaves the old data current (and the half-written N+1 is cleared before
 *   it is written again); a crash after leaves only an unreferenced old
 *   generation, which the next rewrite clears.
 *
 * Everything here runs inside the stack's withLock, which file() backs with
 * its directory lock, so writers in other processes take turns.
 */
import type { Key, Store } from '@laminate/core';
import type { Table } from 'apache-arrow';

export type Stack = Store<Uint8Array>;
export type TableStore = Store<Table>;

/** The last whole line of `bytes` (a torn last line, one without its newline, is skipped). */
function lastLine(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const end = text.lastIndexOf('\n');
  if (end < 0) return undefined;
  const start = text.lastIndexOf('\n', end - 1) + 1;
  return text.slice(start, end);
}

export async function readAttrs<T>(stack: Stack, base: readonly string[]): Promise<T | undefined> {
  const line = lastLine(await stack.get([...base, '.attrs']));
  return line === undefined ? undefined : (JSON.parse(line) as T);
}

export async function writeAttrs(stack: Stack, base: readonly string[], attrs: unknown): Promise<void> {
  await stack.append([[[...base, '.attrs'], Buffer.from(`${JSON.stringify(attrs)}\n`)]]);
}

export async function deleteAttrs(stack: Stack, base: readonly string[]): Promise<void> {
  await stack.delete([[...base, '.attrs']]);
}

/** One rewritable piece of data (a kv table, a tsdb series, a stream shard), stored through `store`. */
export class Generations {
  constructor(
    private readonly stack: Stack,
    private readonly store: TableStore,
    readonly base: readonly string[],
  ) {}

  private get pointer(): Key {
    return [...this.base, '.gen'];
  }

  /** The current generation's key. */
  async current(): Promise<Key> {
    return this.keyOf(await this.generation());
  }

  private keyOf(generation: number): Key {
    return [...this.base, 'g', String(generation)];
  }

  private async generation(): Promise<number> {
    const line = lastLine(await this.stack.get(this.pointer));
    return line === undefined ? 0 : Number(line);
  }

  /** Writes the pointer of a new piece, so listing pointers finds it. */
  async ensure(): Promise<void> {
    const bytes = await this.stack.get(this.pointer);
    if (lastLine(bytes) === undefined) await this.stack.append([[this.pointer, Buffer.from('0\n')]]);
  }

  async read(columns?: readonly string[]): Promise<Table> {
    return this.store.get(await this.current(), columns === undefined ? undefined : { columns });
  }

  async append(table: Table): Promise<void> {
    if (table.numRows === 0) return;
    await this.store.append([[await this.current(), table]]);
  }

  /** Replaces the data with `table` (see the module comment for the order of steps). */
  async replace(table: Table): Promise<void> {
    const old = await this.generation();
    const next = this.keyOf(old + 1);
    await this.store.delete([next]);
    if (table.numRows > 0) await this.store.append([[next, table]]);
    await this.stack.append([[this.pointer, Buffer.from(`${old + 1}\n`)]]);
    await this.store.delete([this.keyOf(old)]);
  }

  /** Deletes the data and the pointer. */
  async remove(): Promise<void> {
    await this.store.delete([await this.current()]);
    await this.stack.delete([this.pointer]);
  }
}

/** The current data of many pieces stored through one `store`, read with one getMany for the pointers and one for the data. */
export async function readPieces(stack: Stack, store: TableStore, bases: readonly (readonly string[])[]): Promise<Table[]> {
  if (bases.length === 0) return [];
  const pointers = await stack.getMany(bases.map((base) => [...base, '.gen']));
  const keys = bases.map((base, i) => [...base, 'g', lastLine(pointers[i]) ?? '0']);
  return store.getMany(keys);
}

/** The pieces of data stored under `prefix` (each found by its pointer key), as their base parts. */
export async function listPieces(stack: Stack, prefix: readonly string[]): Promise<string[][]> {
  const out: string[][] = [];
  for (const key of await stack.keys()) {
    if (!Array.isArray(key)) continue;
    const parts = key.map(String);
    if (parts.length <= prefix.length || parts[parts.length - 1] !== '.gen') continue;
    if (prefix.every((p, i) => parts[i] === p)) out.push(parts.slice(0, -1));
  }
  return out;
}
