import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Store, dict, file, log } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fixture, spawnFixture } from '../../core/test/fixtures/spawn.js';
import { catalog, sha256 } from '../src/index.js';
import { ORDERS_FILE, ORDERS_SCHEMA, ORDERS_STREAM } from './fixtures/orders-arrow.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const tempDir = tempDirs('laminate-catalog-test-', afterAll);
const stores: Store<Uint8Array>[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const store of stores) await store.close().catch(() => undefined);
});

function opened<S extends Store<Uint8Array>>(store: S): S {
  stores.push(store);
  return store;
}

function child(script: string, args: string[]): Fixture {
  return spawnFixture(join(here, 'fixtures', script), args, children);
}

const schema = { fields: [{ name: 'user', type: 'Utf8', nullable: false }, { name: 'amount', type: 'Float64', nullable: true }] };

describe('catalog()', () => {
  it('records datasets, jobs counted per dataset, partitions and content, and answers queries', async () => {
    const cat = catalog(opened(dict()));
    const ds = await cat.registerDataset({ menu: { source: 'orders' }, config: { days: 7 }, owner: 'etl' });
    expect(await cat.registerDataset({ config: { days: 7 }, owner: 'etl', menu: { source: 'orders' } })).toBe(ds);
    const other = await cat.registerDataset({ menu: { source: 'orders' }, config: { days: 8 } });
    expect(other).not.toBe(ds);
    expect((await cat.listDatasets()).map((d) => d.id)).toEqual([ds, other]);
    expect((await cat.listDatasets())[0]).toMatchObject({ menu: { source: 'orders' }, config: { days: 7 }, extra: { owner: 'etl' } });

    expect([await cat.newJob(ds), await cat.newJob(ds), await cat.newJob(other)]).toEqual(['job-1', 'job-2', 'job-1']);
    expect(await cat.newPartition(ds, '2024-01-01')).toBe('2024-01-01');
    await cat.newPartition(ds, '2024-01-02');
    await cat.newPartition(ds, '2024-01-01');
    expect(await cat.listJobs(ds)).toEqual(['job-1', 'job-2']);
    expect(await cat.listPartitions(ds)).toEqual(['2024-01-01', '2024-01-02']);
    expect(await cat.listPartitions(other)).toEqual([]);

    const table = Buffer.from('arrow ipc bytes');
    const id = await cat.registerContent(table, { kind: 'table', dataset: ds, job: 'job-1', partition: '2024-01-01', name: 'orders/2024-01-01.arrow', schema });
    expect(id).toBe(sha256(table));
    // The same content and info again: the same id, no second record.
    expect(await cat.registerContent(Buffer.from(table), { kind: 'table', dataset: ds, job: 'job-1', partition: '2024-01-01', name: 'orders/2024-01-01.arrow', schema })).toBe(id);
    await cat.registerContent(Buffer.from('{"days":7}'), { kind: 'config', dataset: ds, name: 'config.json' });
    await cat.registerContent(Buffer.from('log line\n'), { kind: 'log', dataset: ds, job: 'job-2', name: 'job-2.log', meta: { level: 'info' } });

    const tables = await cat.list({ kind: 'table' });
    expect(tables).toHaveLength(1);
    expect(tables[0]).toMatchObject({ id, kind: 'table', dataset: ds, job: 'job-1', partition: '2024-01-01', size: table.byteLength, schema });
    expect(Object.isFrozen(tables[0])).toBe(true);
    expect(Object.isFrozen(tables[0].schema!.fields[0])).toBe(true);
    expect((await cat.list({ dataset: ds })).map((r) => r.name)).toEqual(['orders/2024-01-01.arrow', 'config.json', 'job-2.log']);
    expect((await cat.list({ dataset: ds, job: 'job-2' })).map((r) => r.name)).toEqual(['job-2.log']);
    expect((await cat.list({ suffix: '.json' })).map((r) => r.kind)).toEqual(['config']);
    expect((await cat.list({ prefix: 'orders/' })).map((r) => r.id)).toEqual([id]);
    expect(await cat.list({ dataset: other })).toEqual([]);
    // The schema is queryable: tables with a column of that name.
    expect((await cat.list({ column: 'amount' })).map((r) => r.id)).toEqual([id]);
    expect(await cat.list({ column: 'price' })).toEqual([]);
    expect(Buffer.from(await cat.get(id)).equals(table)).toBe(true);
  });

  it("reads a table's schema from its Arrow IPC bytes, stream or file, as apache-arrow names the types", async () => {
    const cat = catalog(opened(dict()));
    const ds = await cat.registerDataset({ menu: 'orders', config: {} });
    const job = await cat.newJob(ds);
    await cat.newPartition(ds, 'p0');
    await cat.registerContent(ORDERS_STREAM, { kind: 'table', dataset: ds, job, partition: 'p0', name: 'orders.arrows' });
    await cat.registerContent(ORDERS_FILE, { kind: 'table', dataset: ds, job, partition: 'p0', name: 'orders.arrow' });
    const tables = await cat.list({ kind: 'table' });
    expect(tables.map((r) => r.schema)).toEqual([ORDERS_SCHEMA, ORDERS_SCHEMA]);
    expect((await cat.list({ column: 'at' })).map((r) => r.name)).toEqual(['orders.arrows', 'orders.arrow']);
    // A stream is not read ahead for its schema: it needs info.schema; bytes that are not Arrow are refused.
    const streamed = await rejection(cat.registerContent((async function* () { yield ORDERS_STREAM; })(), { kind: 'table', dataset: ds, job, partition: 'p0' }));
    expect([streamed.code, streamed.message]).toEqual(['ERR_SCHEMA', expect.stringMatching(/given as a stream needs info\.schema/)]);
    const garbage = await rejection(cat.registerContent(Buffer.from('not arrow at all, just text'), { kind: 'table', dataset: ds, job, partition: 'p0' }));
    expect([garbage.code, garbage.message]).toEqual(['ERR_SCHEMA', expect.stringMatching(/must be Arrow IPC/)]);
    expect(await cat.list({ kind: 'table' })).toHaveLength(2);
  });

  it('names the id that is missing or unknown, before a byte is stored', async () => {
    const store = opened(dict());
    const cat = catalog(store);
    const ds = await cat.registerDataset({ menu: [], config: {} });
    const job = await cat.newJob(ds);
    await cat.newPartition(ds, 'p0');
    const keysBefore = (await store.keys()).length;
    const cases: [Parameters<typeof cat.registerContent>[1], string, RegExp][] = [
      [{ kind: 'file' } as never, 'ERR_INVALID_OPTION', /info\.dataset/],
      [{ kind: 'file', dataset: 'nope' }, 'ERR_NOT_FOUND', /unknown dataset "nope"/],
      [{ kind: 'file', dataset: ds }, 'ERR_INVALID_OPTION', /a file needs info\.job/],
      [{ kind: 'file', dataset: ds, job }, 'ERR_INVALID_OPTION', /a file needs info\.partition/],
      [{ kind: 'log', dataset: ds }, 'ERR_INVALID_OPTION', /a log needs info\.job/],
      [{ kind: 'histogram', dataset: ds, job: 'job-9' }, 'ERR_NOT_FOUND', /unknown job "job-9"/],
      [{ kind: 'file', dataset: ds, job, partition: 'p7' }, 'ERR_NOT_FOUND', /unknown partition "p7"/],
      [{ kind: 'table', dataset: ds, job, partition: 'p0' }, 'ERR_SCHEMA', /info\.schema/],
      [{ kind: 'config', dataset: ds, schema }, 'ERR_INVALID_OPTION', /only a table has a schema/],
      [{ kind: 'blob' as never, dataset: ds }, 'ERR_INVALID_OPTION', /info\.kind must be one of file, table, log, histogram, config, menu/],
    ];
    for (const [info, code, message] of cases) {
      const error = await rejection(cat.registerContent(Buffer.from('x'), info));
      expect([error.code, error.message]).toEqual([code, expect.stringMatching(message)]);
    }
    expect((await rejection(cat.newJob('nope'))).code).toBe('ERR_NOT_FOUND');
    expect((await rejection(cat.newPartition(ds, ''))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(cat.listJobs(undefined as never))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(cat.list({ owner: 'x' } as never))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(cat.registerDataset({ menu: 1 } as never))).message).toMatch(/info\.config is missing/);
    expect((await store.keys()).length).toBe(keysBefore);
  });

  // Over log(): file() spends a file on each object and record, and creating 20,000 files is a test of the disk.
  it('answers queries over 10,000 records, and a second catalog on the same directory sees them all', async () => {
    const dir = tempDir();
    const cat = catalog(opened(log(dir)));
    const datasets = [await cat.registerDataset({ menu: 'a', config: 1 }), await cat.registerDataset({ menu: 'b', config: 2 })];
    const jobs = await Promise.all(datasets.map(async (ds) => [await cat.newJob(ds), await cat.newJob(ds)]));
    for (const ds of datasets) for (let p = 0; p < 10; p++) await cat.newPartition(ds, `p${p}`);
    for (let i = 0; i < 10_000; i++) {
      const d = i % 2;
      await cat.registerContent(Buffer.from(`record ${i}`), { kind: i % 5 === 0 ? 'histogram' : 'file', dataset: datasets[d], job: jobs[d][(i >> 1) % 2], partition: `p${i % 10}`, name: `part-${String(i).padStart(5, '0')}${i % 3 === 0 ? '.arrow' : '.bin'}` });
    }
    const again = catalog(opened(log(dir)));
    for (const c of [cat, again]) {
      expect(await c.list()).toHaveLength(10_000);
      const mine = await c.list({ dataset: datasets[1], job: jobs[1][0], partition: 'p3' });
      const expected = Array.from({ length: 10_000 }, (_, i) => i).filter((i) => i % 2 === 1 && ((i >> 1) % 2) === 0 && i % 10 === 3);
      expect(mine.map((r) => r.name)).toEqual(expected.map((i) => `part-${String(i).padStart(5, '0')}${i % 3 === 0 ? '.arrow' : '.bin'}`));
      expect(await c.list({ dataset: datasets[0], kind: 'histogram' })).toHaveLength(1000);
      expect(await c.list({ prefix: 'part-09', suffix: '.arrow' })).toHaveLength(Array.from({ length: 1000 }, (_, i) => 9000 + i).filter((i) => i % 3 === 0).length);
      expect(await c.listPartitions(datasets[0])).toHaveLength(10);
    }
    // One catalog sees what the other adds.
    const job = await again.newJob(datasets[0]);
    expect(job).toBe('job-3');
    expect(await cat.newJob(datasets[0])).toBe('job-4');
    await again.registerContent(Buffer.from('late'), { kind: 'log', dataset: datasets[0], job });
    expect((await cat.list({ dataset: datasets[0], job })).map((r) => r.id)).toEqual([sha256(Buffer.from('late'))]);
  }, 120_000);

  it('gc() over file() and log() removes what no record names', async () => {
    for (const make of [file, log]) {
      const dir = tempDir();
      const cat = catalog(opened(make(dir)));
      const ds = await cat.registerDataset({ menu: 'm', config: 'c' });
      const job = await cat.newJob(ds);
      const id = await cat.registerContent(Buffer.from('a log'), { kind: 'log', dataset: ds, job });
      await cat.objects.put(Buffer.from('nobody names me'));
      expect(await cat.gc()).toEqual({ objects: 1, partial: 0 });
      const again = catalog(opened(make(dir)));
      expect((await again.list({ dataset: ds })).map((r) => r.id)).toEqual([id]);
      expect(Buffer.from(await again.get(id)).toString()).toBe('a log');
    }
  });

  it('gc() in one process while two others register: every record names an object that reads, every other object is gone', async () => {
    const dir = tempDir();
    const cat = catalog(opened(file(dir)));
    const ds = await cat.registerDataset({ menu: 'shuffle', config: { writers: 2 } });
    const stop = join(tempDir(), 'stop');
    const collector = child('gc-loop.ts', [dir, stop]);
    // The writers start once the collector runs, so its runs overlap theirs.
    while (!collector.lines.includes('running') && (await Promise.race([collector.done, new Promise((resolve) => setTimeout(() => resolve('wait'), 10))])) === 'wait');
    expect(collector.lines).toContain('running');
    const writers = ['a', 'b'].map((name) => child('register.ts', [dir, ds, name, '60']));
    const codes = await Promise.all(writers.map((w) => w.done));
    expect(codes, writers.map((w) => w.stderr()).join('\n')).toEqual([0, 0]);
    fs.writeFileSync(stop, '');
    expect(await collector.done, collector.stderr()).toBe(0);
    const { runs } = JSON.parse(collector.lines[1]) as { runs: number };
    expect(runs).toBeGreaterThan(1);

    await cat.gc({ graceMs: 0 });
    const records = await cat.list({ dataset: ds });
    expect(records.filter((r) => r.kind === 'file')).toHaveLength(120);
    expect(records.filter((r) => r.kind === 'log')).toHaveLength(14);
    expect(await cat.listJobs(ds)).toEqual(['job-1', 'job-2']);
    const named = new Set(records.map((r) => r.id));
    for (const record of records) {
      const got = Buffer.from(await cat.get(record.id));
      expect(got.byteLength).toBe(record.size);
      if (record.kind === 'file') {
        const [writer, i] = record.name.replace('.bin', '').split('/');
        expect(got.equals(Buffer.alloc(20_000 + Number(i), `${writer}:${i}:`))).toBe(true);
      }
    }
    // Nothing else is left: no object no record names, no bytes no object names.
    expect(new Set(await cat.objects.ids())).toEqual(named);
    expect(fs.readdirSync(join(dir, 'cas%d', 'data%d'))).toHaveLength(named.size);
    for (const name of ['a', 'b']) expect(await cat.objects.has(sha256(Buffer.from(`orphan ${name} 0`)))).toBe(false);
  }, 180_000);
});
