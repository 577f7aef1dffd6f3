/**
 * follow() and seal(): a key read as it grows, in this process and from
 * other processes (real `node` children through tsx, from ./fixtures), over
 * dict(), file(), buffer() across spills and the encoding layers; positions
 * to resume from; abort, idle timeout and the sealed end; seal markers on disk.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DictStore, buffer, dict, file, isLaminateError, log, msgpack, zlib } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { seededRandom } from '@laminate/core/layer';
import { processScope } from './fixtures/spawn.js';

const tempDir = tempDirs('laminate-follow-test-', afterAll);
/** runFixture(name, args): ./fixtures/name in a process of its own; `ended` resolves with its stdout lines, or rejects with its stderr. */
const { fixture: runFixture, track } = processScope();

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array) => Buffer.from(value).toString();

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('follow() in one process', () => {
  it('dict(): the stored bytes first, then each append as it lands, until the seal', async () => {
    const store = track(dict());
    await store.append({ k: bytes('ab') });
    const follower = store.follow('k');
    const seen: string[] = [];
    const done = (async () => {
      for await (const piece of follower) {
        seen.push(text(piece));
        if (seen.join('') === 'abcd') await store.seal('k');
        else if (seen.join('') === 'ab') await store.append({ k: bytes('cd') });
      }
    })();
    await done;
    expect(seen.join('')).toBe('abcd');
    expect(follower.endedBy).toBe('sealed');
    expect(follower.position).toBe(4);
    // A sealed key: a new follower reads it whole and finishes.
    expect(text(Buffer.concat(await collect(store.follow('k'))))).toBe('abcd');
    // Deleted, the key is a new stream: unsealed.
    await store.delete(['k']);
    await store.append({ k: bytes('new') });
    const again = store.follow('k', { idleTimeoutMs: 50 });
    expect((await collect(again)).map(text)).toEqual(['new']);
    expect(again.endedBy).toBe('idle');
  });

  it("from: 'end' skips what is stored; from a position resumes after it", async () => {
    const store = track(msgpack(dict()));
    await store.append({ k: [1] });
    await store.append({ k: [2] });
    const entries: { value: unknown[]; position: number }[] = [];
    for await (const entry of store.follow('k', { idleTimeoutMs: 50 }).entries()) entries.push(entry);
    expect(entries.map((e) => e.value)).toEqual([[1], [2]]);
    const late = store.follow('k', { from: 'end', idleTimeoutMs: 2000 });
    const lateValues = collect(late);
    // The follower learns where the end is when it starts reading.
    await until(() => late.position !== undefined);
    await store.append({ k: [3] });
    await store.seal('k');
    expect(await lateValues).toEqual([[3]]);
    expect(await collect(store.follow('k', { from: entries[0].position }))).toEqual([[2], [3]]);
    expect(await collect(store.follow('k', { from: late.position! }))).toEqual([]);
  });

  it('idleTimeoutMs ends a follower of an unsealed key without error', async () => {
    const store = track(dict());
    await store.append({ k: bytes('x') });
    const follower = store.follow('k', { idleTimeoutMs: 30 });
    expect((await collect(follower)).map(text)).toEqual(['x']);
    expect(follower.endedBy).toBe('idle');
  });

  it('an AbortSignal ends a waiting follower with ERR_ABORTED; its position stays to resume from', async () => {
    const store = track(zlib(dict()));
    await store.append({ k: bytes('one') });
    const controller = new AbortController();
    const follower = store.follow('k', { signal: controller.signal });
    const seen: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const value of follower) {
          seen.push(text(value));
          setTimeout(() => controller.abort(new Error('enough')), 10);
        }
      })(),
    );
    expect(isLaminateError(error, 'ERR_ABORTED')).toBe(true);
    expect((error as Error).cause).toEqual(new Error('enough'));
    expect(seen).toEqual(['one']);
    await store.append({ k: bytes('two') });
    await store.seal('k');
    expect((await collect(store.follow('k', { from: follower.position! }))).map(text)).toEqual(['two']);
    // Aborted before it starts: nothing is read.
    await expect(collect(store.follow('k', { signal: AbortSignal.abort() }))).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('closing the store ends its waiting followers with ERR_CLOSED', async () => {
    const store = msgpack(file(tempDir()));
    await store.append({ k: [1] });
    const seen: unknown[] = [];
    const following = (async () => {
      for await (const value of store.follow('k')) seen.push(value);
    })();
    await until(() => seen.length === 1);
    await store.close();
    await expect(following).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('stacked encoders (msgpack over zlib) decode frame by frame, and resume from a position', async () => {
    const store = track(msgpack(zlib(dict())));
    for (let i = 0; i < 5; i++) await store.append({ k: [i, 'x'.repeat(i * 100)] });
    await store.seal('k');
    const entries: { value: unknown[]; position: number }[] = [];
    for await (const entry of store.follow('k').entries()) entries.push(entry);
    expect(entries.map((e) => e.value[0])).toEqual([0, 1, 2, 3, 4]);
    expect(entries.at(-1)!.position).toBe((await (store.inner as ReturnType<typeof zlib>).inner.get('k')).byteLength);
    expect((await collect(store.follow('k', { from: entries[2].position }))).map((v) => v[0])).toEqual([3, 4]);
  });

  it('file(): a tuple key, whose folder is made after the follower starts', async () => {
    const dir = tempDir();
    const store = track(msgpack(file(dir)));
    const values = collect(store.follow(['day', 7]));
    await store.append({ other: [0] });
    await store.append([[['day', 7], ['a']]]);
    await store.append([[['day', 7], ['b']]]);
    await store.seal(['day', 7]);
    expect(await values).toEqual([['a'], ['b']]);
  });

  it('refuses bad options with ERR_INVALID_OPTION', () => {
    const store = track(dict());
    for (const opts of [{ from: -1 }, { from: 1.5 }, { from: 'middle' }, { idleTimeoutMs: 0 }, { signal: {} }, { pollMs: 0 }]) {
      expect(() => store.follow('k', opts as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });

  it('Readable.from(store.follow(key)) is a Node stream of the values', async () => {
    const store = track(msgpack(dict()));
    await store.append({ k: [{ a: 1 }] });
    await store.append({ k: [{ a: 2 }] });
    await store.seal('k');
    const values: unknown[] = [];
    for await (const value of Readable.from(store.follow('k'))) values.push(value);
    expect(values).toEqual([[{ a: 1 }], [{ a: 2 }]]);
  });

  it('buffer(): every value once and in order while keys spill to file() between reads', async () => {
    const dir = tempDir();
    const store = track(msgpack(buffer(dict(), file(dir), { availableMemory: 2000 })));
    const follower = store.follow('stream');
    const received: number[] = [];
    const reading = (async () => {
      for await (const [value] of follower) received.push(value as number);
    })();
    for (let i = 0; i < 500; i++) {
      // Another key pushes memory over the limit, so 'stream' spills now and then, between and during reads.
      await store.append({ stream: [i], [`other-${i % 7}`]: ['x'.repeat(100)] });
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await store.seal('stream');
    await reading;
    expect(received).toEqual([...Array(500).keys()]);
    // Part of the key was spilled to file() at some point.
    expect(fs.statSync(join(dir, 'stream')).size).toBeGreaterThan(0);
  });

  it('file(): the seal is a marker in .sealed that drop() removes and delete() takes back', async () => {
    const dir = tempDir();
    const store = track(file(dir));
    await store.append({ k: bytes('abc') });
    await store.seal('k');
    await store.append({ k: bytes('after') });
    expect(fs.readFileSync(join(dir, '.sealed', 'k'), 'latin1')).toBe('3');
    // Followed to the sealed end only.
    expect(text(Buffer.concat(await collect(store.follow('k'))))).toBe('abc');
    // Sealing again keeps the first seal.
    await store.seal('k');
    expect(fs.readFileSync(join(dir, '.sealed', 'k'), 'latin1')).toBe('3');
    await store.delete(['k']);
    expect(fs.existsSync(join(dir, '.sealed', 'k'))).toBe(false);
    await store.append({ k: bytes('new') });
    expect(text(Buffer.concat(await collect(store.follow('k', { idleTimeoutMs: 50 }))))).toBe('new');
    await store.seal('k');
    await store.drop();
    expect(fs.readdirSync(dir).filter((name) => !name.startsWith('.laminate'))).toEqual([]);
  });

  it('file(): a seal marker that is a symlink is not followed (ERR_SYMLINK)', async () => {
    const dir = tempDir();
    const elsewhere = join(tempDir(), 'target');
    fs.writeFileSync(elsewhere, '1');
    const store = track(file(dir));
    await store.append({ k: bytes('abc') });
    fs.mkdirSync(join(dir, '.sealed'));
    fs.symlinkSync(elsewhere, join(dir, '.sealed', 'k'));
    await expect(collect(store.follow('k'))).rejects.toMatchObject({ code: 'ERR_SYMLINK' });
    await expect(store.seal('k')).rejects.toMatchObject({ code: 'ERR_SYMLINK' });
    expect(fs.readFileSync(elsewhere, 'latin1')).toBe('1');
  });
});

describe('log(): seals are records in the log (more in log-streams.test.ts)', () => {
  it('log(): follow() reads what lands until seal() ends it', async () => {
    const store = track(msgpack(log(tempDir())));
    await store.append({ k: [1] });
    const follower = store.follow('k', { idleTimeoutMs: 60_000 });
    const values = collect(follower);
    await store.append({ k: [2] });
    await store.seal('k');
    expect(await values).toEqual([[1], [2]]);
    expect(follower.endedBy).toBe('sealed');
  });
});

describe('follow() across processes', () => {
  it('file(): a producer process appends and seals; followers started early, late and resumed after SIGKILL each get every value once, in order', async () => {
    const dir = tempDir();
    const count = 2000;
    const producer = runFixture('stream-producer.ts', [dir, String(count)]);
    const early = runFixture('stream-consumer.ts', [dir, 'start']);
    // The one to be killed acknowledges each value with its position.
    const killed = runFixture('stream-consumer.ts', [dir, 'start', '300']);
    await until(() => killed.lines.length >= 300);
    killed.process.kill('SIGKILL');
    await rejection(killed.ended);
    const acknowledged = killed.lines.filter((line) => line.startsWith('value '));
    const resumeFrom = acknowledged.at(-1)!.split(' ')[2];
    const resumed = runFixture('stream-consumer.ts', [dir, resumeFrom]);
    await until(() => producer.lines.some((line) => line.startsWith('at 1000')));
    const late = runFixture('stream-consumer.ts', [dir, 'start']);
    await producer.ended;
    const expected = [...Array(count).keys()].map(String);
    const values = (lines: string[]) => lines.filter((line) => line.startsWith('value ')).map((line) => line.split(' ')[1]);
    expect(values(await early.ended)).toEqual(expected);
    expect(values(await late.ended)).toEqual(expected);
    expect([...values(acknowledged), ...values(await resumed.ended)]).toEqual(expected);
    for (const consumer of [early, late, resumed]) expect(consumer.lines.at(-1)).toBe('end sealed');
  }, 120_000);
});

async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('appendStream()', () => {
  it("appends a Readable's values with backpressure: the source runs at most a few values ahead of the store", async () => {
    let stored = 0;
    class CountingDict extends DictStore {
      override async appendIds(ids: readonly string[], values: readonly Uint8Array[]): Promise<void> {
        await super.appendIds(ids, values);
        stored++;
      }
    }
    const store = track(msgpack(new CountingDict()));
    let produced = 0;
    let mostAhead = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 200; i++) {
          produced++;
          mostAhead = Math.max(mostAhead, produced - stored);
          yield [i];
        }
      })(),
      { highWaterMark: 2 },
    );
    expect(await store.appendStream('k', source)).toBe(200);
    await store.seal('k');
    expect(await collect(store.follow('k'))).toEqual([...Array(200).keys()].map((i) => [i]));
    // The Readable's buffer (2) and the value being appended: without backpressure it would run all 200 ahead.
    expect(mostAhead).toBeLessThanOrEqual(4);
  });

  it('stops at a value the layer does not store (ERR_VALUE_TYPE), keeping those before it; a signal stops it (ERR_ABORTED)', async () => {
    const store = track(dict());
    const error = await rejection(store.appendStream('k', [bytes('a'), bytes('b'), 'c' as never]));
    expect(isLaminateError(error, 'ERR_VALUE_TYPE')).toBe(true);
    expect(text(await store.get('k'))).toBe('ab');
    const controller = new AbortController();
    async function* endless() {
      for (let i = 0; ; i++) {
        if (i === 3) controller.abort();
        yield bytes('x');
      }
    }
    await expect(store.appendStream('j', endless(), { signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(text(await store.get('j'))).toBe('xxx');
  });
});

describe("dict()'s ranges, which followers read a piece at a time", () => {
  it('read from the chunks as they lie give the same bytes as slicing get()', async () => {
    const store = track(dict());
    const random = seededRandom(5);
    for (let i = 0; i < 300; i++) {
      // Small values packed into blocks, large ones kept apart, some transferred.
      const size = random() < 0.2 ? 1024 + Math.floor(random() * 3000) : Math.floor(random() * 100);
      const value = Buffer.alloc(size, i % 251);
      await store.append({ k: value }, { transfer: random() < 0.3 });
      if (i % 10 === 0) {
        const whole = Buffer.from(await store.get('k'));
        for (let r = 0; r < 20; r++) {
          const offset = Math.floor(random() * (whole.byteLength + 10));
          const length = random() < 0.1 ? Infinity : Math.floor(random() * 5000);
          const [part] = await store.readRanges([{ key: 'k', offset, length }]);
          expect(Buffer.from(part).equals(whole.subarray(offset, offset + length))).toBe(true);
        }
      }
    }
  });
});

describe("buffer()'s ranges of a key part spilled, part in memory", () => {
  it('read from both stores give the same bytes as slicing get()', async () => {
    const store = track(buffer(dict(), file(tempDir()), { availableMemory: 4096 }));
    const random = seededRandom(9);
    for (let i = 0; i < 200; i++) {
      await store.append({ k: Buffer.alloc(1 + Math.floor(random() * 300), i % 251), other: Buffer.alloc(Math.floor(random() * 200), 1) });
      if (i % 10 === 0) {
        const whole = Buffer.from(await store.get('k'));
        for (let r = 0; r < 20; r++) {
          const offset = Math.floor(random() * (whole.byteLength + 10));
          const length = random() < 0.1 ? Infinity : Math.floor(random() * 3000);
          const [part] = await store.readRanges([{ key: 'k', offset, length }]);
          expect(Buffer.from(part).equals(whole.subarray(offset, offset + length))).toBe(true);
        }
      }
    }
    // Both parts were there: some of the key spilled, some still in memory.
    expect(store.spilledBytes).toBeGreaterThan(0);
  });
});

describe('keys({ prefix, signal })', () => {
  it('is a promise of the keys and an async iterator of them, filtered by a prefix', async () => {
    const store = track(file(tempDir()));
    await store.append([
      ['2024-01', bytes('a')],
      ['2024-02', bytes('b')],
      ['2023-12', bytes('c')],
      [['day', '17', 'x'], bytes('d')],
      [['day', '2'], bytes('e')],
      [['2024-03', 'x'], bytes('f')],
    ]);
    expect((await store.keys()).length).toBe(6);
    expect((await store.keys({ prefix: '2024-' })).sort()).toEqual([['2024-03', 'x'], '2024-01', '2024-02'].sort());
    const iterated: unknown[] = [];
    for await (const key of store.keys({ prefix: ['day', '1'] })) iterated.push(key);
    expect(iterated).toEqual([['day', '17', 'x']]);
    expect(await store.keys({ prefix: ['day', '17', 'x', 'more'] })).toEqual([]);
  });

  it('an AbortSignal ends the listing or its iteration with ERR_ABORTED; a bad prefix is ERR_INVALID_OPTION', async () => {
    const store = track(dict());
    await store.append({ a: bytes('1'), b: bytes('2'), c: bytes('3') });
    await expect(store.keys({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const controller = new AbortController();
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const key of store.keys({ signal: controller.signal })) {
          seen.push(key);
          controller.abort();
        }
      })(),
    );
    expect(isLaminateError(error, 'ERR_ABORTED')).toBe(true);
    expect(seen.length).toBe(1);
    await expect(store.keys({ prefix: 7 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
