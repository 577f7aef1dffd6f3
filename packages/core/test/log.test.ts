/**
 * log(): reopening through the index checkpoint, torn tails, damaged
 * records, tombstones against concurrent appends, and several real writer
 * processes sharing one directory (one order for every reader, each writer's
 * own order kept, nothing acknowledged lost when a writer is killed).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LaminateError, type LogStore, log, open } from '@laminate/core';
import { rejection, seededRandom, tempDirs } from '@laminate/core/testing';
import { crc32Of } from '../src/log/crc.js';
import { type Fixture, spawnFixture } from './fixtures/spawn.js';

const here = dirname(fileURLToPath(import.meta.url));
// Before the hook below: directories go after the stores in them are closed.
const tempDir = tempDirs('laminate-log-test-', afterAll);
const stores: LogStore[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const store of stores) await store.close().catch(() => undefined);
});

function opened(dir: string, opts?: Parameters<typeof log>[1]): LogStore {
  const store = log(dir, opts);
  stores.push(store);
  return store;
}

const text = (value: Uint8Array) => Buffer.from(value).toString();
const segments = (dir: string) => fs.readdirSync(dir).filter((name) => name.endsWith('.seg')).sort();

/** A fixture in a real node process; `lines` fills with its stdout. */
/** A fixture of this folder in its own process; its stderr is shown when it fails on its own. */
function child(script: string, args: string[]): Fixture {
  const started = spawnFixture(join(here, 'fixtures', script), args, children);
  void started.done.then((code) => {
    if (code !== 0 && started.process.signalCode === null) console.error(started.stderr());
  });
  return started;
}

/** The tokens "name:i" of a key's text, checked to be whole. */
function tokens(value: string): string[] {
  if (value === '') return [];
  expect(value.endsWith(';')).toBe(true);
  const out = value.slice(0, -1).split(';');
  for (const token of out) expect(token).toMatch(/^w\d+:\d+$/);
  return out;
}

describe('log(): checksums', () => {
  it('computes the same CRC-32 as zlib at every length and offset, short inputs in JavaScript and long ones in zlib', () => {
    const random = seededRandom(32);
    const bytes = Buffer.from(Array.from({ length: 2048 }, () => Math.floor(random() * 256)));
    for (let length = 0; length <= 600; length++) {
      for (const start of [0, 1, 3, 8, 13]) expect(crc32Of(bytes, start, start + length)).toBe(crc32(bytes.subarray(start, start + length)));
    }
    expect(crc32Of(bytes)).toBe(crc32(bytes));
    expect(crc32Of(new Uint8Array(37).fill(0xff))).toBe(crc32(Buffer.alloc(37, 0xff)));
  });

  it('computes the same CRC-32 as zlib over inputs that zlib takes a page at a time', () => {
    const random = seededRandom(33);
    const bytes = Buffer.from(Array.from({ length: 5 * 4096 + 300 }, () => Math.floor(random() * 256)));
    for (const length of [4095, 4096, 4097, 8192, 8193, 3 * 4096 + 17, 5 * 4096]) {
      for (const start of [0, 1, 7, 4095, 4096, 300]) expect(crc32Of(bytes, start, start + length)).toBe(crc32(bytes.subarray(start, start + length)));
    }
    expect(crc32Of(bytes)).toBe(crc32(bytes));
  });
});

describe('log(): reopening', () => {
  it('reopens from the checkpoint and reads the commit log only past it', async () => {
    const dir = tempDir();
    const first = opened(dir, { checkpointEvery: 1 });
    await first.append({ early: Buffer.from('before the checkpoint'), other: Buffer.from('x') });
    await first.close();
    expect(fs.existsSync(join(dir, 'checkpoint.idx'))).toBe(true);
    const second = opened(dir, { checkpointEvery: 1e9 });
    await second.append({ late: Buffer.from('after it'), other: Buffer.from('y') });
    await second.close();
    // Damage the header of the first record of "early": a scan from the start would now fail, the checkpoint skips it.
    const [segment] = segments(dir);
    const bytes = fs.readFileSync(join(dir, segment));
    const at = bytes.indexOf('early') - 32;
    bytes[at + 9] ^= 0xff;
    fs.writeFileSync(join(dir, segment), bytes);
    const third = opened(dir);
    expect(text(await third.get('early'))).toBe('before the checkpoint');
    expect(text(await third.get('late'))).toBe('after it');
    expect(text(await third.get('other'))).toBe('xy');
    await third.close();
    // Without the checkpoint the commit log is read from the start, and the damaged header is reported.
    fs.rmSync(join(dir, 'checkpoint.idx'));
    const error = (() => {
      try {
        log(dir);
      } catch (e) {
        return e as LaminateError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('ERR_CORRUPT_FRAME');
    expect(error?.message).toContain(segment);
  });

  it('ignores a checkpoint that does not check out', async () => {
    const dir = tempDir();
    const store = opened(dir, { checkpointEvery: 1 });
    await store.append({ a: Buffer.from('1') });
    await store.close();
    const path = join(dir, 'checkpoint.idx');
    const bytes = fs.readFileSync(path);
    bytes[bytes.length - 6] ^= 1;
    fs.writeFileSync(path, bytes);
    expect(text(await opened(dir).get('a'))).toBe('1');
  });

  it('reports a flipped bit in a value as ERR_CORRUPT_FRAME naming key and segment; other keys still read', async () => {
    const dir = tempDir();
    const store = opened(dir);
    await store.append({ good: Buffer.from('fine value'), bad: Buffer.from('value to damage') });
    const [segment] = segments(dir);
    const path = join(dir, segment);
    const bytes = fs.readFileSync(path);
    bytes[bytes.indexOf('to damage')] ^= 0x04;
    fs.writeFileSync(path, bytes);
    const error = await rejection(store.get('bad'));
    expect(error).toBeInstanceOf(LaminateError);
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.key).toBe('"bad"');
    expect(error.message).toContain(path);
    expect(text(await store.get('good'))).toBe('fine value');
    // Deleting the key gets past it.
    await store.delete(['bad']);
    expect(await store.keys()).toEqual(['good']);
  });

  it('reads values lying close together through the block cache, returning only the key\'s own bytes, each checksum checked', async () => {
    const dir = tempDir();
    const store = opened(dir);
    const want: string[] = [];
    for (let i = 0; i < 50; i++) {
      const value = `a${i};`.repeat(i % 7);
      want.push(value);
      // Other keys' records between a's values; now and then a gap wider than one read spans.
      await store.append({ a: Buffer.from(value), b: Buffer.from(`b${i}|`.repeat(i % 10 === 9 ? 3000 : 5)) });
    }
    await store.append({ a: Buffer.from('x'.repeat(300_000)) });
    await store.append({ a: Buffer.from('tail'), c: Buffer.from('y'.repeat(2_000_000)) });
    await store.append({ a: Buffer.from('end') });
    want.push('x'.repeat(300_000), 'tail', 'end');
    expect(text(await store.get('a'))).toBe(want.join(''));
    expect(text(await store.get('b'))).toBe(Array.from({ length: 50 }, (_, i) => `b${i}|`.repeat(i % 10 === 9 ? 3000 : 5)).join(''));
    expect((await store.getMany(['a', 'c'])).map((v) => v.byteLength)).toEqual([want.join('').length, 2_000_000]);
    // A flipped bit in a value in the middle of a block read at once, read by a store that has no copy of the block yet.
    const [segment] = segments(dir);
    const path = join(dir, segment);
    const bytes = fs.readFileSync(path);
    bytes[bytes.indexOf('a20;')] ^= 0x04;
    fs.writeFileSync(path, bytes);
    const fresh = opened(dir);
    const error = await rejection(fresh.get('a'));
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(error.key).toBe('"a"');
    expect(text(await fresh.get('b'))).toContain('b20|');
    // Without the block cache the same.
    const uncached = opened(dir, { readCacheBytes: 0 });
    expect((await rejection(uncached.get('a'))).code).toBe('ERR_CORRUPT_FRAME');
  });

  it('never returns a torn record at a dead writer\'s tail, and cuts it on reopen', async () => {
    const dir = tempDir();
    const writer = child('log-writer.ts', [dir, 'w0', '5', '2']);
    expect(await writer.done).toBe(0);
    const [segment] = segments(dir);
    const path = join(dir, segment);
    const committed = fs.statSync(path).size;
    // What a writer killed mid-append leaves: a record's first bytes, no commit.
    fs.appendFileSync(path, Buffer.from('\x40\x00\x00\x00partial record'));
    const store = opened(dir);
    expect(tokens(text(await store.get('k0')))).toEqual(['w0:0', 'w0:2', 'w0:4']);
    expect(fs.statSync(path).size).toBe(committed);
  });
});

describe('log(): 1,000,000 keys', () => {
  // log() works synchronously under its promises: without a turn of the event loop between the long steps,
  // the test runner's own messages to this worker would wait for the whole test.
  const turn = () => new Promise((r) => setImmediate(r));

  it('reopens from the index checkpoint and reads only the commits past it', async () => {
    const dir = tempDir();
    const keys = 1_000_000;
    const value = Buffer.from('12345678');
    // Big append calls keep this quick: the point is the reopen, not the appends.
    const first = log(dir);
    try {
      for (let i = 0; i < keys; i += 100_000) {
        const batch: Record<string, Uint8Array> = {};
        for (let k = i; k < i + 100_000; k++) batch[`key-${k}`] = value;
        await first.append(batch);
        await turn();
      }
      expect(first.stats().keys).toBe(keys);
    } finally {
      // Closing writes the checkpoint (more than checkpointEvery records were applied).
      await first.close();
    }
    expect(fs.statSync(join(dir, 'checkpoint.idx')).size).toBeGreaterThan(keys * 40);
    await turn();
    const second = log(dir, { checkpointEvery: Number.MAX_SAFE_INTEGER });
    let covered: number;
    try {
      const stats = second.stats();
      covered = stats.checkpointPosition;
      expect(covered).toBeGreaterThan(0);
      expect(stats.scannedRecords).toBe(0);
      expect(stats.keys).toBe(keys);
      // The tail: three calls, five values, past the checkpoint (this store closes without writing one).
      await second.append({ 'key-7': Buffer.from('+a'), 'tail-1': Buffer.from('t1') });
      await second.append({ 'key-999999': Buffer.from('+b') });
      await second.append({ 'tail-2': Buffer.from('t2'), 'key-7': Buffer.from('+c') });
    } finally {
      await second.close();
    }
    await turn();
    const third = log(dir);
    try {
      const stats = third.stats();
      expect(stats.checkpointPosition).toBe(covered);
      // The five values and the seal the second store wrote on closing: nothing before the checkpoint was scanned.
      expect(stats.scannedRecords).toBe(6);
      expect(stats.keys).toBe(keys + 2);
      expect(stats.indexBytes).toBeGreaterThan(keys * 50);
      const got = await third.getMany(['key-0', 'key-7', 'key-500000', 'key-999999', 'tail-1', 'tail-2', 'key-1000000']);
      expect(got.map(text)).toEqual(['12345678', '12345678+a+c', '12345678', '12345678+b', 't1', 't2', '']);
    } finally {
      await third.close();
    }
  }, 600_000);
});

describe('log(): tombstones', () => {
  it('delete and pop remove what other processes appended before them; drop empties the store for every process', async () => {
    const dir = tempDir();
    const a = opened(dir);
    const b = opened(dir);
    await a.append({ k: Buffer.from('old;'), p: Buffer.from('1;') });
    await b.append({ k: Buffer.from('new;'), p: Buffer.from('2;') });
    await a.delete(['k']);
    expect(text(await b.get('k'))).toBe('');
    expect(text(await a.pop('p'))).toBe('1;2;');
    await b.append({ p: Buffer.from('3;') });
    expect(text(await a.get('p'))).toBe('3;');
    await a.drop();
    expect(await b.keys()).toEqual([]);
  });

  it('keeps the first iset across processes, and a drop removes it', async () => {
    const dir = tempDir();
    const a = opened(dir);
    const b = opened(dir);
    await a.iset('schema', Buffer.from('first'));
    await b.iset('schema', Buffer.from('second'));
    expect(text(await b.iget('schema'))).toBe('first');
    await b.drop();
    expect((await a.iget('schema')).length).toBe(0);
  });

  it('refuses an append past maxDiskBytes with ERR_DISK_FULL, storing nothing', async () => {
    const store = opened(tempDir(), { maxDiskBytes: 4096 });
    await store.append({ a: Buffer.alloc(1000) });
    const error = await rejection(store.append({ a: Buffer.alloc(100), b: Buffer.alloc(5000) }));
    expect(error.code).toBe('ERR_DISK_FULL');
    expect((await store.get('a')).length).toBe(1000);
    expect(await store.keys()).toEqual(['a']);
  });

  it('bounds the index with maxIndexBytes: ERR_TOO_LARGE, nothing stored; deleting keys makes room; stats() reports the estimate', async () => {
    const store = opened(tempDir(), { maxIndexBytes: 20_000 });
    const batch = (from: number, count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`key-${from + i}`, Buffer.from('v')]));
    await store.append(batch(0, 100));
    const used = store.stats().indexBytes;
    expect(used).toBeGreaterThan(100 * 100);
    expect(used).toBeLessThan(20_000);
    const error = await rejection(store.append(batch(100, 100)));
    expect(error).toBeInstanceOf(LaminateError);
    expect(error.code).toBe('ERR_TOO_LARGE');
    expect(error.message).toContain('maxIndexBytes');
    expect((await store.keys()).length).toBe(100);
    expect(store.stats().indexBytes).toBe(used);
    await store.delete(Object.keys(batch(0, 90)));
    await store.append(batch(100, 100));
    expect((await store.keys()).length).toBe(110);
    expect(text(await store.get('key-150'))).toBe('v');
  });

  it('describes itself and reopens from the short form', async () => {
    const dir = tempDir();
    const store = opened(dir, { fsync: true });
    await store.append({ a: Buffer.from('x') });
    expect(store.describe()).toEqual({ type: 'log', path: dir, fsync: true });
    await store.close();
    const again = open<Uint8Array>(`log(${dir})`);
    expect(text(await again.get('a'))).toBe('x');
    await again.close();
  });
});

describe('log(): compact()', () => {
  it('gives back the space of deleted values and keeps the rest, in order, through a reopen', async () => {
    const dir = tempDir();
    const store = opened(dir, { segmentBytes: 64 << 10 });
    for (let i = 0; i < 200; i++) await store.append({ [`k${i % 10}`]: Buffer.alloc(1000, i), keep: Buffer.from(`${i};`) });
    await store.delete(Array.from({ length: 10 }, (_, k) => `k${k}`));
    await store.iset('meta', Buffer.from('m'));
    const before = segments(dir).reduce((n, name) => n + fs.statSync(join(dir, name)).size, 0);
    const result = await store.compact();
    const after = segments(dir).reduce((n, name) => n + fs.statSync(join(dir, name)).size, 0);
    expect(result.removed).toBeGreaterThan(0);
    expect(after).toBeLessThan(before / 10);
    const expected = Array.from({ length: 200 }, (_, i) => `${i};`).join('');
    expect(text(await store.get('keep'))).toBe(expected);
    expect(text(await store.iget('meta'))).toBe('m');
    await store.close();
    const again = opened(dir);
    expect(text(await again.get('keep'))).toBe(expected);
    expect(await again.keys()).toEqual(['keep']);
  });

  it('compacts while writer processes append and another process reads', async () => {
    const dir = tempDir();
    const count = 300;
    const writers = [0, 1].map((w) => child('log-writer.ts', [dir, `w${w}`, String(count), '2', String(4 << 10)]));
    const reader = opened(dir);
    const compactor = opened(dir);
    let finished = false;
    const all = Promise.all(writers.map((w) => w.done)).then((codes) => ((finished = true), codes));
    let compactions = 0;
    let previous = '';
    while (!finished) {
      await compactor.compact();
      compactions++;
      const now = text(await reader.get('k0'));
      expect(now.startsWith(previous)).toBe(true);
      previous = now;
    }
    expect(await all).toEqual([0, 0]);
    expect(compactions).toBeGreaterThan(1);
    await compactor.compact();
    const late = child('log-reader.ts', [dir]);
    expect(await late.done).toBe(0);
    const seen = JSON.parse(late.lines[0]) as Record<string, string>;
    for (const w of [0, 1]) {
      const mine = [...tokens(seen.k0), ...tokens(seen.k1)].filter((t) => t.startsWith(`w${w}:`)).map((t) => Number(t.split(':')[1]));
      expect(mine.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(text(await reader.get('k0'))).toBe(seen.k0);
  }, 60_000);
});

describe('log(): automatic compaction', () => {
  const segmentBytesOnDisk = (dir: string) => segments(dir).reduce((n, name) => n + fs.statSync(join(dir, name)).size, 0);

  it('compacts once the garbage passes autoCompactBytes and autoCompactRatio, and not before', async () => {
    const dir = tempDir();
    const store = opened(dir, { autoCompactBytes: 64 << 10, segmentBytes: 16 << 10 });
    const junk = Buffer.alloc(4096, 7);
    let rounds = 0;
    // Below the trigger: garbage piles up, nothing is compacted.
    while (store.stats().garbageBytes + 4200 < 64 << 10) {
      await store.append({ live: Buffer.from(`${rounds++};`), junk });
      await store.delete(['junk']);
    }
    expect(store.stats().autoCompactions).toBe(0);
    for (let i = 0; i < 200; i++) {
      await store.append({ live: Buffer.from(`${rounds++};`), junk });
      await store.delete(['junk']);
    }
    const stats = store.stats();
    expect(stats.autoCompactions).toBeGreaterThanOrEqual(2);
    expect(stats.autoCompactError).toBeUndefined();
    // About 860 KB of junk went through; what stays is bounded by the trigger, the open segment and the live data.
    expect(segmentBytesOnDisk(dir)).toBeLessThan(64 * 1024 + 2 * (16 << 10) + 40_000);
    const expected = Array.from({ length: rounds }, (_, i) => `${i};`).join('');
    expect(text(await store.get('live'))).toBe(expected);
    await store.close();
    expect(text(await opened(dir).get('live'))).toBe(expected);
  });

  it('never compacts with autoCompact: false, nor below the garbage ratio', async () => {
    const off = tempDir();
    const store = opened(off, { autoCompact: false, autoCompactBytes: 1024, segmentBytes: 4096 });
    for (let i = 0; i < 50; i++) {
      await store.append({ junk: Buffer.alloc(2048) });
      await store.delete(['junk']);
    }
    expect(store.stats().autoCompactions).toBe(0);
    expect(store.stats().garbageBytes).toBeGreaterThan(50 * 2048);
    const ratio = opened(tempDir(), { autoCompactBytes: 1024, autoCompactRatio: 0.9, segmentBytes: 4096 });
    for (let i = 0; i < 50; i++) {
      await ratio.append({ live: Buffer.alloc(2048), junk: Buffer.alloc(2048) });
      await ratio.delete(['junk']);
    }
    // About half the segments is garbage: below 0.9, so no compaction.
    expect(ratio.stats().autoCompactions).toBe(0);
    expect(ratio.stats().garbageBytes).toBeGreaterThan(50 * 2048);
  });

  it('compacts automatically in several processes while another appends and this one reads; nothing lost, one order', async () => {
    const dir = tempDir();
    const rounds = 300;
    const churners = ['c0', 'c1'].map((name) => child('log-churn.ts', [dir, name, String(rounds), String(64 << 10), String(16 << 10)]));
    const writer = child('log-writer.ts', [dir, 'w0', '300', '2']);
    const reader = opened(dir, { autoCompact: false });
    let finished = false;
    const all = Promise.all([...churners, writer].map((c) => c.done)).then((codes) => ((finished = true), codes));
    const previous: Record<string, string> = {};
    let reads = 0;
    while (!finished) {
      for (const key of ['c0:live', 'c1:live', 'k0']) {
        const now = text(await reader.get(key));
        expect(now.startsWith(previous[key] ?? '')).toBe(true);
        previous[key] = now;
      }
      reads++;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await all).toEqual([0, 0, 0]);
    expect(reads).toBeGreaterThan(1);
    const compactions = churners.map((c) => (JSON.parse(c.lines[c.lines.length - 1]) as { autoCompactions: number; autoCompactError?: string }));
    for (const stats of compactions) expect(stats.autoCompactError).toBeUndefined();
    expect(compactions.reduce((n, stats) => n + stats.autoCompactions, 0)).toBeGreaterThan(0);
    const expected = Array.from({ length: rounds }, (_, i) => `${i};`).join('');
    expect(text(await reader.get('c0:live'))).toBe(expected);
    expect(text(await reader.get('c1:live'))).toBe(expected);
    expect((await reader.keys()).sort()).toEqual(['c0:live', 'c1:live', 'k0', 'k1']);
    const mine = [...tokens(text(await reader.get('k0'))), ...tokens(text(await reader.get('k1')))].map((t) => Number(t.split(':')[1]));
    expect(mine.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // 2.4 MB of junk went through; compaction gave most of it back.
    expect(segmentBytesOnDisk(dir)).toBeLessThan(1 << 20);
    // A process reading from scratch agrees.
    const late = child('log-reader.ts', [dir]);
    expect(await late.done).toBe(0);
    expect(JSON.parse(late.lines[0])['c0:live']).toBe(expected);
  }, 120_000);
});

describe('log(): several processes', () => {
  it('4 writer processes on shared keys: every value once, each writer in order, one order for every reader', async () => {
    const dir = tempDir();
    const writers = 4;
    const count = 400;
    const keys = 3;
    const running = Array.from({ length: writers }, (_, w) => child('log-writer.ts', [dir, `w${w}`, String(count), String(keys)]));
    const reader = opened(dir);
    let previous: Record<string, string> = {};
    let reads = 0;
    const settled = Promise.all(running.map((r) => r.done));
    let finished = false;
    void settled.then(() => (finished = true));
    while (!finished) {
      const names = Array.from({ length: keys }, (_, k) => `k${k}`);
      const values = (await reader.getMany(names)).map(text);
      names.forEach((name, k) => {
        // What a reader saw stays the start of what it sees later: the order never changes under it.
        expect(values[k].startsWith(previous[name] ?? '')).toBe(true);
        tokens(values[k]);
      });
      previous = Object.fromEntries(names.map((name, k) => [name, values[k]]));
      reads++;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await settled).toEqual(Array(writers).fill(0));
    expect(reads).toBeGreaterThan(1);
    const final: Record<string, string> = {};
    for (let k = 0; k < keys; k++) final[`k${k}`] = text(await reader.get(`k${k}`));
    for (let w = 0; w < writers; w++) {
      for (let k = 0; k < keys; k++) {
        const mine = tokens(final[`k${k}`]).filter((token) => token.startsWith(`w${w}:`)).map((token) => Number(token.split(':')[1]));
        const expected = Array.from({ length: count }, (_, i) => i).filter((i) => i % keys === k);
        expect(mine).toEqual(expected);
      }
    }
    // Another process, reading from scratch, sees the same order.
    const other = child('log-reader.ts', [dir]);
    expect(await other.done).toBe(0);
    expect(JSON.parse(other.lines[0])).toEqual(final);
    // Each writer wrote its own segment.
    expect(segments(dir).length).toBe(writers);
  }, 60_000);

  it('a writer killed with SIGKILL at random moments loses nothing it acknowledged and leaves nothing torn', async () => {
    const dir = tempDir();
    const random = seededRandom(15);
    const acknowledged: number[] = [];
    for (let round = 0; round < 4; round++) {
      const writer = child('log-writer.ts', [dir, `w${round}`, '0', '2']);
      while (writer.lines.length === 0 && writer.process.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20 + random() * 200));
      writer.process.kill('SIGKILL');
      await writer.done;
      acknowledged.push(writer.lines.length === 0 ? -1 : Number(writer.lines[writer.lines.length - 1]));
    }
    const store = opened(dir);
    const all = [...tokens(text(await store.get('k0'))), ...tokens(text(await store.get('k1')))];
    acknowledged.forEach((last, round) => {
      const mine = all.filter((token) => token.startsWith(`w${round}:`)).map((token) => Number(token.split(':')[1])).sort((a, b) => a - b);
      // Every acknowledged value is there, each once; at most the one being written when killed is there too.
      expect(mine.slice(0, last + 1)).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
      expect(mine.length - (last + 1)).toBeLessThanOrEqual(1);
    });
    // Reopening cut every dead writer's segment back to what was committed.
    const ends = new Map(segments(dir).map((name) => [name, fs.statSync(join(dir, name)).size]));
    await store.close();
    const again = opened(dir);
    expect(again.stats().segmentBytes).toBe([...ends.values()].reduce((a, b) => a + b, 0));
  }, 60_000);
});
