/**
 * arrowColumns().follow(): one Table per appended table, as it lands, from
 * real processes, through file() and through client(). A producer appends
 * tables with random pauses and seals the key; consumer processes (all
 * columns; a subset of them; one killed with SIGKILL and resumed from the
 * position it last acknowledged) each receive every table once, in order,
 * holding the columns they asked for. In this process: an append whose
 * columns have not all landed is never yielded; what a seal means for the
 * key's sub-keys; from 'end'; the options refused.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DictStore, file } from '@laminate/core';
import { frame, keyId } from '@laminate/core/layer';
import { tempDirs } from '@laminate/core/testing';
import { arrowColumns } from '@laminate/arrow';
import { type Table, tableFromArrays, tableToIPC } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { serve } from '../../net/src/index.js';
import { columnsTable } from './fixtures/columns-producer.js';
import { type Fixture, spawnFixture } from '../../core/test/fixtures/spawn.js';

const here = dirname(fileURLToPath(import.meta.url));
const tempDir = tempDirs('laminate-columns-follow-', afterAll);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(script: string, args: string[]): Fixture {
  return spawnFixture(join(here, 'fixtures', script), args, children);
}

async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const tables = (lines: readonly string[]) => lines.filter((line) => line.startsWith('table ')).map((line) => Number(line.split(' ')[1]));
const positions = (lines: readonly string[]) => lines.filter((line) => line.startsWith('table ')).map((line) => Number(line.split(' ')[3]));

/** Producer, consumers of all columns and of a subset, and one killed and resumed, over the bytes store `spec` names. */
async function pipeline(spec: string, count: number): Promise<void> {
  const producer = start('columns-producer.ts', [spec, String(count)]);
  const all = start('columns-consumer.ts', [spec, 'start', 'all']);
  const subset = start('columns-consumer.ts', [spec, 'start', 'label,x']);
  const killed = start('columns-consumer.ts', [spec, 'start', 'all', String(count / 4)]);
  await until(() => tables(killed.lines).length >= count / 4 || killed.process.exitCode !== null);
  expect(killed.stderr()).toBe('');
  killed.process.kill('SIGKILL');
  await killed.done;
  const acknowledged = killed.lines.filter((line) => line.startsWith('table '));
  const resumed = start('columns-consumer.ts', [spec, acknowledged.at(-1)!.split(' ')[3], 'all']);
  await producer.ended;

  const every = [...Array(count).keys()];
  expect(tables(await all.ended)).toEqual(every);
  expect(tables(await subset.ended)).toEqual(every);
  expect([...tables(acknowledged), ...tables(await resumed.ended)]).toEqual(every);
  // A position is the number of tables up to and including the one taken, whatever columns are followed.
  expect(positions(all.lines)).toEqual(every.map((i) => i + 1));
  expect(positions(subset.lines)).toEqual(every.map((i) => i + 1));
  for (const consumer of [all, subset, resumed]) expect(consumer.lines.at(-1)).toBe('end sealed');
}

describe('arrowColumns().follow() across processes', () => {
  it('through file(): every consumer gets every table once, in order, with its columns; a killed one resumes from its position', async () => {
    const dir = tempDir();
    await pipeline(`file:${dir}`, 400);
    // What was followed is what get() reads.
    const store = arrowColumns(file(dir));
    const table = await store.get('tables');
    expect(table.numRows).toBe([...Array(400).keys()].reduce((rows, i) => rows + columnsTable(i).numRows, 0));
    await store.close();
  }, 180_000);

  it('through client(): producer and consumers in other processes, the server in this one', async () => {
    const served = file(tempDir());
    const server = await serve(served, { listen: 'tcp://127.0.0.1:0' });
    try {
      await pipeline(`client:${server.address}`, 200);
    } finally {
      await server.close();
      await served.close();
    }
  }, 180_000);
});

/** The frame arrowColumns() writes for one column of a table (a one-column IPC stream). */
function columnFrame(table: Table, name: string): Uint8Array {
  return frame(tableToIPC(table.select([name]), 'stream'));
}

describe('arrowColumns().follow() in this process', () => {
  it('never yields an append before every followed column of it has landed', async () => {
    const inner = new DictStore();
    const store = arrowColumns(inner);
    await store.append({ k: columnsTable(0) });
    const follower = store.follow('k', { from: 1 });
    const iterator = follower.entries()[Symbol.asyncIterator]();
    const next = iterator.next();
    // Table 1's columns land one by one, as a writer appending to file() leaves them between its writes.
    const made = columnsTable(1);
    let settled = false;
    void next.then(() => (settled = true));
    for (const name of ['batch', 'row', 'x']) {
      await inner.append([[['k', name], columnFrame(made, name)]]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settled).toBe(false);
    }
    await inner.append([[['k', 'label'], columnFrame(made, 'label')]]);
    const { value } = await next;
    expect(value!.position).toBe(2);
    expect(value!.value.getChild('label')!.toArray()).toEqual(['t1r0', 't1r1']);
    await iterator.return!();
    // A follower of only the columns that landed does not wait for the others.
    await inner.append([[['k', 'x'], columnFrame(columnsTable(2), 'x')]]);
    const partial = [];
    for await (const { value: table, position } of store.follow('k', { columns: ['x'], idleTimeoutMs: 200 }).entries()) partial.push([position, table.getChild('x')!.get(0)]);
    expect(partial).toEqual([
      [1, 0],
      [2, 1000],
      [3, 2000],
    ]);
    // A follower of every column ends idle without the half table.
    const whole = store.follow('k', { idleTimeoutMs: 200 });
    const taken = [];
    for await (const table of whole) taken.push(table.getChild('batch')!.get(0));
    expect(taken).toEqual([0, 1]);
    expect(whole.endedBy).toBe('idle');
    expect(whole.position).toBe(2);
    await store.close();
  });

  it('a seal seals every column and .schema after the same append; later appends are not followed; from: end', async () => {
    const dir = tempDir();
    const store = arrowColumns(file(dir));
    await store.append({ k: columnsTable(0) });
    const late = store.follow('k', { from: 'end' });
    const lateTables = (async () => {
      const out = [];
      for await (const table of late) out.push(table.getChild('batch')!.get(0));
      return out;
    })();
    await until(() => late.position !== undefined);
    expect(late.position).toBe(1);
    await store.append({ k: columnsTable(1) });
    await store.seal('k');
    await store.append({ k: columnsTable(2) });
    expect(await lateTables).toEqual([1]);
    expect(late.endedBy).toBe('sealed');

    // A follower that falls behind, with more appended after the seal before it reads on, still ends at the seal.
    const behind = store.follow('k')[Symbol.asyncIterator]();
    expect((await behind.next()).value!.getChild('batch')!.get(0)).toBe(0);
    await store.append({ k: columnsTable(3) });
    expect((await behind.next()).value!.getChild('batch')!.get(0)).toBe(1);
    expect((await behind.next()).done).toBe(true);

    const all = store.follow('k');
    const batches = [];
    for await (const table of all) batches.push(table.getChild('batch')!.get(0));
    expect(batches).toEqual([0, 1]);
    expect(all.position).toBe(2);
    // Sealing again changes nothing; get() still reads what was appended after the seal.
    await store.seal('k');
    expect((await store.get('k')).numRows).toBe(1 + 2 + 3 + 4);
    const again = [];
    for await (const table of store.follow('k', { from: 1, columns: ['row'] })) again.push(table.numRows);
    expect(again).toEqual([2]);
    await store.close();

    // The seal is in the sub-keys' markers on disk: one per column, and .schema's.
    const reopened = file(dir);
    const sealed = await Promise.all(['.schema', 'batch', 'row', 'x', 'label'].map((part) => reopened.sealedId(keyId(['k', part]))));
    await reopened.close();
    expect(sealed.every((length) => typeof length === 'number' && length > 0)).toBe(true);
  });

  it('a key sealed before its first table ends its followers with none; deleting it makes a new stream', async () => {
    const store = arrowColumns(file(tempDir()));
    const waiting = store.follow('k');
    const waited = (async () => {
      const out = [];
      for await (const table of waiting) out.push(table.numRows);
      return out;
    })();
    await store.seal('k');
    expect(await waited).toEqual([]);
    expect(waiting.endedBy).toBe('sealed');
    await store.append({ k: columnsTable(3) });
    const after = store.follow('k');
    for await (const table of after) throw new Error(`a table appended after the seal was followed: ${table.numRows} rows`);
    expect(after.endedBy).toBe('sealed');
    expect(after.position).toBe(0);

    await store.delete(['k']);
    await store.append({ k: columnsTable(4) });
    await store.seal('k');
    const fresh = [];
    for await (const table of store.follow('k')) fresh.push(table.getChild('batch')!.get(0));
    expect(fresh).toEqual([4]);
    await store.close();
  });

  it('refuses columns that are not a list of names, names the key lacks, and consumer positions and trims', async () => {
    const store = arrowColumns(new DictStore());
    await store.append({ k: tableFromArrays({ a: Int32Array.of(1) }) });
    expect(() => store.follow('k', { columns: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => store.follow('k', { columns: 'a' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => store.follow('k', { columns: ['a', 'a'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    await expect(
      (async () => {
        for await (const _ of store.follow('k', { columns: ['b'] })) void _;
      })(),
    ).rejects.toMatchObject({ code: 'ERR_SCHEMA' });
    // Positions count tables, which the inner store's consumer records and trims do not: refused.
    await expect(store.commit('k', 'billing', 1)).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    await expect(store.trim('k', 0)).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    await expect(
      (async () => {
        for await (const _ of store.follow('k', { consumer: 'billing' })) void _;
      })(),
    ).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    expect(await store.startOf('k')).toBe(0);
    await store.close();
  });
});
