import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { zstd } from '@laminate/core';
import { type RedisStore, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { arrow } from '../../arrow/src/index.js';
import { EpisodePool } from '../../pool/src/index.js';
import { SCHEMA, metaOf } from '../../pool/test/fixtures/episodes.js';
import { runFixture } from './fixtures/children.js';
import { singleServer } from './fixtures/servers.js';

// An episode pool shared through one Redis by processes that never share a disk.
const server = await singleServer();
afterAll(() => server.stop());

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('EpisodePool over redis()', () => {
  it('takes episodes from two writer processes while a third samples batches: ids unique, every sampled row its episode’s', async () => {
    const store: RedisStore = redis(`${server.url}/${randomUUID()}`);
    const spec = JSON.stringify(store.describe());
    const creator = new EpisodePool(arrow(zstd(store)), { schema: SCHEMA });
    expect(await creator.count()).toBe(0);
    await creator.close();

    const perWriter = 100;
    const sampler = runFixture(children, 'pool-sampler.ts', [spec, String(2 * perWriter)]);
    const writers = [runFixture(children, 'pool-writer.ts', [spec, '0', String(perWriter)])];
    // The second writer starts once the sampler has drawn a batch, so sampling overlaps writing however slowly processes start.
    while (!sampler.output().includes('batch ') && sampler.process.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    writers.push(runFixture(children, 'pool-writer.ts', [spec, '1000', String(perWriter)]));
    for (const child of [...writers, sampler]) expect(await child.exited, child.output()).toBe(0);

    // Every store() acknowledged with an id, none given twice.
    const tagOfId = new Map<number, number>();
    for (const writer of writers) {
      for (const line of writer.output().split('\n').filter((l) => /^\d+ \d+$/.test(l))) {
        const [tag, id] = line.split(' ').map(Number);
        expect(tagOfId.has(id), `id ${id} given twice`).toBe(false);
        tagOfId.set(id, tag);
      }
    }
    expect(tagOfId.size).toBe(2 * perWriter);

    // The sampler's batches name each episode by the id a writer was given for it; its last batch holds all of them.
    const batches = sampler.output().split('\n').filter((l) => l.startsWith('batch '));
    expect(batches.length).toBeGreaterThan(1);
    for (const line of batches) {
      for (const pair of line.slice(6).split(' ').filter(Boolean)) {
        const [id, tag] = pair.split(':').map(Number);
        expect(tag, `sampled episode ${id}`).toBe(tagOfId.get(id));
      }
    }
    expect(batches.at(-1)!.slice(6).split(' ')).toHaveLength(2 * perWriter);

    // Read back here: every episode whole, with its metadata.
    const pool = new EpisodePool(arrow(zstd(redis(`${server.url}/${store.settings.namespace}`))));
    const seen: number[] = [];
    for await (const { meta, table } of pool.iterate()) {
      const tag = tagOfId.get(meta.id)!;
      expect(meta.vehicle).toBe(metaOf(tag).vehicle);
      expect(table.numRows).toBe(10 + (tag % 7));
      expect([...table.getChild('action')!.toArray()].every((a) => a === tag)).toBe(true);
      seen.push(meta.id);
    }
    expect(seen).toEqual([...tagOfId.keys()].sort((a, b) => a - b));
    await pool.close();
  }, 180_000);
});
