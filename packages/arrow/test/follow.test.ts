/**
 * arrow(file(dir)).follow(): Tables as they land, from real processes. A
 * producer appends record batches with random pauses and seals the key;
 * three consumer processes (one started from the beginning, one started
 * late, one killed with SIGKILL and resumed from the position it last
 * acknowledged) each receive every batch once, in order, as produced.
 *
 * 2,000 batches keep the test to seconds on a loaded CI machine; the
 * mechanism does not change with the count.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { arrow } from '@laminate/arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { batch } from './fixtures/batch-producer.js';
import { type Fixture, spawnFixture } from '../../core/test/fixtures/spawn.js';

const here = dirname(fileURLToPath(import.meta.url));
const tempDir = tempDirs('laminate-arrow-follow-', afterAll);
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

const batches = (lines: readonly string[]) => lines.filter((line) => line.startsWith('batch ')).map((line) => Number(line.split(' ')[1]));

describe('arrow(file(dir)).follow() across processes', () => {
  it('every consumer gets every batch once, in order: started early, started late, and resumed after SIGKILL', async () => {
    const dir = tempDir();
    const count = 10_000;
    const producer = start('batch-producer.ts', [dir, String(count)]);
    const early = start('batch-consumer.ts', [dir, 'start']);
    const killed = start('batch-consumer.ts', [dir, 'start', '400']);
    await until(() => batches(killed.lines).length >= 400);
    killed.process.kill('SIGKILL');
    await killed.ended.catch(() => undefined);
    const acknowledged = killed.lines.filter((line) => line.startsWith('batch '));
    const resumed = start('batch-consumer.ts', [dir, acknowledged.at(-1)!.split(' ')[3]]);
    await until(() => producer.lines.includes('at 5000'));
    const late = start('batch-consumer.ts', [dir, 'start']);
    await producer.ended;

    const all = [...Array(count).keys()];
    expect(batches(await early.ended)).toEqual(all);
    expect(batches(await late.ended)).toEqual(all);
    expect([...batches(acknowledged), ...batches(await resumed.ended)]).toEqual(all);
    for (const consumer of [early, late, resumed]) expect(consumer.lines.at(-1)).toBe('end sealed');

    // What was followed is what get() reads: the same rows, joined.
    const store = arrow(file(dir));
    const table = await store.get('batches');
    expect(table.numRows).toBe(all.reduce((rows, i) => rows + batch(i).numRows, 0));
    await store.close();
  }, 180_000);

  it('a follower in this process gets Tables, and nothing past the sealed end', async () => {
    const store = arrow(file(tempDir()));
    await store.append({ t: batch(0) });
    await store.append({ t: batch(1) });
    await store.seal('t');
    await store.append({ t: batch(2) });
    const tables = [];
    for await (const table of store.follow('t')) tables.push(table);
    expect(tables.map((table) => table.getChild('batch')!.get(0))).toEqual([0, 1]);
    expect(tables[1].numRows).toBe(2);
    await store.close();
  });
});
