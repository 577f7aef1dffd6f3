/**
 * file(): the key → file name map, several processes sharing one directory,
 * writers killed mid-stream, torn tails and repair, temporary stores, the
 * bounded cache of open files, fsync, iset/delete across processes, and the
 * partd layout (tuple keys as partd's nested folders; partd-compat.test.ts
 * checks it against Python partd itself).
 *
 * Tests that need another process run a real `node` child (TypeScript through
 * tsx) from ./fixtures and check what it did on disk and on its stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import fsModule from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type EncodeStore, type Key, file, isLaminateError, msgpack, open, whyNotAStore, zlib } from '@laminate/core';
import { SHARED_KEYS, checkRecords, msgpackRow, parseMsgpack, parseRaw, recordsInCall, zlibValue } from './fixtures/records.js';
import { rejection, tempDirs } from '@laminate/core/testing';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, 'fixtures');
const ROOT = join(here, '..', '..', '..');

// ---------------------------------------------------------------- helpers

// Before the hook below: directories go after the stores in them are closed.
const tempDir = tempDirs('laminate-file-test-', afterAll);
const openStores: { close(): Promise<void> }[] = [];
const children: ChildProcess[] = [];

// Cleaned up once at the end, not after each test: tests run concurrently and must not end each other's children.
afterAll(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const store of openStores.splice(0)) await store.close().catch(() => undefined);
});

function track<S extends { close(): Promise<void> }>(store: S): S {
  openStores.push(store);
  return store;
}

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array) => Buffer.from(value).toString();

/** A running fixture: its stdout lines as they come, and how it ended. */
class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(script: string, args: string[], opts: { ulimitFiles?: number } = {}) {
    const node = [process.execPath, '--conditions=source', '--import', 'tsx', join(FIXTURES, script), ...args];
    this.process =
      opts.ulimitFiles === undefined
        ? spawn(node[0], node.slice(1), { cwd: ROOT, stdio: 'pipe' })
        : spawn('bash', ['-c', `ulimit -n ${opts.ulimitFiles} && exec "$@"`, 'bash', ...node], { cwd: ROOT, stdio: 'pipe' });
    children.push(this.process);
    let partial = '';
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
      }
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.process.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** The first line (already printed or still to come) that passes `test`. */
  line(test: (line: string) => boolean = () => true): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ test, resolve });
      void this.exited.then(({ code, signal }) => reject(new Error(`child exited (code ${code}, signal ${signal}) before the line expected; stderr:\n${this.stderr}`)));
    });
  }

  send(line: string): void {
    this.process.stdin!.write(line + '\n');
  }

  /** Waits for a clean exit and returns stdout. */
  async success(): Promise<string[]> {
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`child failed (code ${code}, signal ${signal}):\n${this.stderr}`);
    return this.lines;
  }
}

/** Every path under `dir`, depth first, with lstat (symlinks are not followed). */
function walkTree(dir: string): { path: string; stat: fs.Stats }[] {
  const out: { path: string; stat: fs.Stats }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const path = join(dir, name);
    const stat = fs.lstatSync(path);
    out.push({ path, stat });
    if (stat.isDirectory()) out.push(...walkTree(path));
  }
  return out;
}

/** The byte offsets where each 8-byte-length frame of a framed file starts (read independently of laminate). */
function frameStarts(buf: Buffer): number[] {
  const starts: number[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const length = Number(buf.readBigUInt64LE(at));
    if (at + 8 + length > buf.length) break;
    starts.push(at);
    at += 8 + length;
  }
  expect(at, 'the file should hold whole frames only').toBe(buf.length);
  return starts;
}

/** Polls `test` for up to `ms` milliseconds; returns its last answer. */
async function eventually(test: () => boolean, ms = 2000): Promise<boolean> {
  for (const deadline = Date.now() + ms; !test(); ) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

const sortedJson = (keys: readonly Key[]) => keys.map((k) => JSON.stringify(k)).sort();

// ---------------------------------------------------------------- 1. the key map

/** Keys chosen to break a naive key → file name map. */
function trickyKeys(parent: string): Key[] {
  return [
    '', '.', '..', '../x', '../../escaped', '../', './', 'a/..', '/abs', join(parent, 'escaped-absolute'), '/',
    'a/b', 'a\\b', '\\', 'C:\\win', '..\\..\\x',
    'nul\0inside', '\0leading', '\0',
    '%', '%%', '%41', 'A', 'a', '%2E', '%2e', '%e', '%d', 'a%d', '%h', '%h' + '0'.repeat(64), '%25',
    'é', 'e\u0301', '日本語', '🦊', '🦊🦊', 'Ω≈ç√', '\u200b', 'tab\there', 'new\nline', 'space here', ' ', '*?<>|"\':',
    '.hidden', '..double', '...', '.laminate.lock', '.laminate.gen', '.iset', '.tmp-1-x', '.%h00',
    'CON', 'nul', 'lpt1.txt',
    'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(300), 'y'.repeat(5000), 'z'.repeat(20_000), '🦊'.repeat(100), '/'.repeat(300), '.'.repeat(300),
    ['a', 'b'], ['a', 'b', 'c'], ['a', ''], ['', 'a'], ['', ''], ['..', '..'], ['/', 'x'], ['a/b', 'c'], ['a%d', 'b'], ['a', 'b%d'],
    ['.iset', 'x'], ['.laminate.lock', 'x'], ['x'.repeat(300), 'y'], ['y', 'x'.repeat(300)], ['\0', '\0'],
    ['1', '2'], ['n', '3.5'], ['b', 'a'],
  ];
}

describe('file(): the key → file name map', () => {
  it('keys() returns exactly the tricky keys appended, and each reads back its own bytes, also after reopening', async () => {
    const parent = tempDir();
    const dir = join(parent, 'store');
    const keys = trickyKeys(parent);
    expect(new Set(keys.map((k) => JSON.stringify(k))).size).toBe(keys.length);

    const store = track(file(dir));
    await store.append(keys.map((k, i) => [k, bytes(`first ${i};`)] as const));
    await store.append(keys.map((k, i) => [k, bytes(`second ${i};`)] as const));

    expect(sortedJson(await store.keys())).toEqual(sortedJson(keys));
    const values = await store.getMany(keys);
    keys.forEach((k, i) => expect(text(values[i]), JSON.stringify(k).slice(0, 60)).toBe(`first ${i};second ${i};`));
    await store.close();

    // A new store reads the names back from disk alone.
    const again = track(file(dir));
    expect(sortedJson(await again.keys())).toEqual(sortedJson(keys));
    const reread = await again.getMany(keys);
    keys.forEach((k, i) => expect(text(reread[i])).toBe(`first ${i};second ${i};`));

    // Deleting some keys leaves every other key whole.
    const gone = keys.filter((_, i) => i % 3 === 0);
    await again.delete(gone);
    const left = keys.filter((_, i) => i % 3 !== 0);
    expect(sortedJson(await again.keys())).toEqual(sortedJson(left));
    for (const k of gone) expect(text(await again.get(k))).toBe('');
    const leftValues = await again.getMany(left);
    left.forEach((k, j) => expect(text(leftValues[j])).toBe(`first ${keys.indexOf(k)};second ${keys.indexOf(k)};`));
  });

  it('numbers in tuple keys are their decimal text, a one-part tuple is its part, and a tuple coexists with its first part', async () => {
    const store = track(file(tempDir()));
    await store.append([
      ['a', bytes('plain a;')],
      [['a', 'b'], bytes('tuple a,b;')],
      [[1, 2], bytes('numbers;')],
      [['n', 3.5], bytes('float;')],
      [['solo'], bytes('one-part;')],
      ['solo', bytes('plain solo;')],
    ]);
    await store.append([[['1', '2'], bytes('strings;')]]);
    expect(text(await store.get('a'))).toBe('plain a;');
    expect(text(await store.get(['a', 'b']))).toBe('tuple a,b;');
    expect(text(await store.get([1, 2]))).toBe('numbers;strings;');
    expect(text(await store.get(['n', '3.5']))).toBe('float;');
    expect(text(await store.get('solo'))).toBe('one-part;plain solo;');
    expect(sortedJson(await store.keys())).toEqual(sortedJson(['a', ['a', 'b'], ['1', '2'], ['n', '3.5'], 'solo']));
  });

  it('refuses keys with a lone surrogate, which would share a file with U+FFFD, and stores nothing from that call', async () => {
    const dir = tempDir();
    const store = track(file(dir));
    for (const bad of ['\uD800', 'a\uDC00b', ['ok', '\uDBFF'], '\0\uD800']) {
      const error = await rejection(store.append([['fine', bytes('x')], [bad as Key, bytes('y')]]));
      expect(isLaminateError(error, 'ERR_INVALID_KEY')).toBe(true);
      expect(error).toBeInstanceOf(TypeError);
      await expect(store.get(bad as Key)).rejects.toMatchObject({ code: 'ERR_INVALID_KEY' });
    }
    expect(await store.keys()).toEqual([]);
    // A paired surrogate (an emoji) and U+FFFD itself are ordinary keys.
    await store.append({ '\uD83E\uDD8A': bytes('fox'), '\uFFFD': bytes('replacement') });
    expect(text(await store.get('🦊'))).toBe('fox');
    expect(text(await store.get('\uFFFD'))).toBe('replacement');
  });

  it('keeps every file inside the store directory, with names the file system accepts', async () => {
    const parent = tempDir();
    const dir = join(parent, 'store');
    const keys = trickyKeys(parent);
    const store = track(file(dir));
    await store.append(keys.map((k) => [k, bytes('v')] as const));
    for (const k of keys) await store.iset(k, bytes('meta'));
    await store.delete(keys.slice(0, 5));
    await store.append(keys.slice(0, 5).map((k) => [k, bytes('again')] as const));
    await store.close();

    // Nothing was written beside the store (keys like '../escaped' or an absolute path would land here).
    expect(fs.readdirSync(parent)).toEqual(['store']);
    const tree = walkTree(dir);
    expect(tree.length).toBeGreaterThan(keys.length);
    const real = fs.realpathSync(dir) + sep;
    for (const { path, stat } of tree) {
      expect(stat.isSymbolicLink(), path).toBe(false);
      expect(fs.realpathSync(path).startsWith(real), path).toBe(true);
      expect(relative(dir, path).split(sep)).not.toContain('..');
      const name = path.slice(path.lastIndexOf(sep) + 1);
      expect(Buffer.byteLength(name), name).toBeLessThanOrEqual(255);
    }
  });

  it('never collides with the store\'s own files: lock, generation and iset metadata', async () => {
    const dir = tempDir();
    const store = track(file(dir));
    await store.iset('meta', bytes('first-meta'));
    const own = ['.laminate.lock', '.laminate.gen', '.iset', '.iset/meta', '.%hmeta'];
    await store.append(own.map((k) => [k, bytes(`user data for ${k} `.repeat(20))] as const));
    await store.append([[['.iset', 'meta'], bytes('tuple under .iset')]]);

    // The lock comes free once the calls are over: a key named like it did not take its place.
    expect(await eventually(() => !fs.existsSync(join(dir, '.laminate.lock')))).toBe(true);
    // The generation counter holds at most its 8 bytes, not user data.
    expect(fs.statSync(join(dir, '.laminate.gen')).size).toBeLessThanOrEqual(8);
    // iset metadata is untouched by keys named like its folder.
    expect(text(await store.iget('meta'))).toBe('first-meta');
    expect(fs.readFileSync(join(dir, '.iset', 'meta'), 'utf8')).toBe('first-meta');

    for (const k of own) expect(text(await store.get(k))).toBe(`user data for ${k} `.repeat(20));
    expect(text(await store.get(['.iset', 'meta']))).toBe('tuple under .iset');
    expect(sortedJson(await store.keys())).toEqual(sortedJson([...own, ['.iset', 'meta']]));

    // Deleting (which bumps the generation file) and locking still work.
    await store.delete(['.laminate.gen', '.laminate.lock']);
    expect(text(await store.get('.laminate.gen'))).toBe('');
    expect(await store.withLock(async () => fs.existsSync(join(dir, '.laminate.lock')))).toBe(true);
    await store.append({ '.laminate.lock': bytes('back') });
    expect(text(await store.get('.laminate.lock'))).toBe('back');
    expect(text(await store.iget('meta'))).toBe('first-meta');

    // drop() empties the user keys and the store stays usable.
    await store.drop();
    expect(await store.keys()).toEqual([]);
    await store.append({ '.iset': bytes('after drop') });
    expect(text(await store.get('.iset'))).toBe('after drop');
  });

  it('writes plain keys under their own names (partd layout) and reads a directory partd wrote', async () => {
    const dir = tempDir();
    const plain = ['x', 'part-00001', 'a_b.c', 'UPPER', '0', 'trailing.'];
    const store = track(file(dir));
    await store.append(plain.map((k) => [k, bytes(`<${k}>`)] as const));
    const names = fs.readdirSync(dir).filter((n) => !n.startsWith('.'));
    expect(names.sort()).toEqual([...plain].sort());
    for (const k of plain) expect(fs.readFileSync(join(dir, k), 'utf8')).toBe(`<${k}>`);
    await store.close();

    // A directory of plain files, as partd.File leaves it, with no laminate metadata at all.
    const partdDir = tempDir();
    fs.writeFileSync(join(partdDir, 'alice'), 'raw bytes of alice');
    fs.writeFileSync(join(partdDir, 'bob-2'), Buffer.from([0, 1, 2, 255]));
    const reader = track(file(partdDir));
    expect(sortedJson(await reader.keys())).toEqual(sortedJson(['alice', 'bob-2']));
    expect(text(await reader.get('alice'))).toBe('raw bytes of alice');
    expect([...(await reader.get('bob-2'))]).toEqual([0, 1, 2, 255]);
    await reader.append({ alice: bytes(' and more') });
    expect(fs.readFileSync(join(partdDir, 'alice'), 'utf8')).toBe('raw bytes of alice and more');
  });
});

// ---------------------------------------------------------------- 2. many processes

describe('file(): several processes appending to one directory', () => {
  const PRODUCERS = 4;

  async function runProducers(layer: 'raw' | 'msgpack', calls: number) {
    const dir = tempDir();
    const producers = Array.from({ length: PRODUCERS }, (_, p) => new Child('producer.ts', [dir, layer, String(p), String(calls)]));
    const reader = new Child('reader.ts', [dir, layer]);
    await Promise.all([...producers, reader].map((c) => c.line((l) => l === 'ready')));
    for (const p of producers) p.send('go');
    // Every producer stops halfway; a whole pass of the reader made while they wait must see exactly half of
    // every producer's values in every shared key (and, like every pass, only whole values in order).
    await Promise.all(producers.map((p) => p.line((l) => l === 'half')));
    const passes = () => reader.lines.filter((l) => l.startsWith('pass ')).length;
    const next = passes() + 2; // the pass under way may have begun before the last producer stopped
    const midway = await reader.line((l) => l.startsWith(`pass ${next} `));
    for (const p of producers) p.send('on');
    const windows = await Promise.all(
      producers.map(async (p) => {
        await p.success();
        const [, start, end] = (await p.line((l) => l.startsWith('done '))).split(' ').map(Number);
        return { start, end };
      }),
    );
    reader.send('stop');
    const readerOut = await reader.success();
    return { dir, windows, readerOut, midway: midway.split(' ').slice(2).map(Number) };
  }

  /** The records each shared key holds once every producer has made the first half of its calls. */
  function recordsAtHalf(calls: number): number {
    let records = 0;
    for (let c = 0; c < Math.floor(calls / 2); c++) records += recordsInCall(c) * PRODUCERS;
    return records;
  }

  function expectAllCalls(counts: Map<number, number>, calls: number) {
    expect([...counts.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: PRODUCERS }, (_, p) => [p, calls]));
  }

  it.concurrent('raw bytes with fixed-size records: nothing lost, interleaved or reordered, and readers only see whole values', async () => {
    const calls = 150;
    const { dir, windows, readerOut, midway } = await runProducers('raw', calls);
    // The producers really ran at the same time.
    expect(Math.max(...windows.map((w) => w.start))).toBeLessThan(Math.min(...windows.map((w) => w.end)));
    // The reader read while every producer was halfway, and never saw a torn value (it exits 1 if it does).
    expect(midway).toEqual([recordsAtHalf(calls), recordsAtHalf(calls)]);
    expect(Number(/^reads (\d+)/.exec(readerOut.at(-1)!)![1])).toBeGreaterThanOrEqual(2 * SHARED_KEYS.length);

    const store = track(file(dir));
    for (const key of SHARED_KEYS) expectAllCalls(checkRecords(parseRaw(await store.get(key as Key))), calls);
    for (let p = 0; p < PRODUCERS; p++) {
      const counts = checkRecords(parseRaw(await store.get(`own-${p}`)));
      expect([...counts]).toEqual([[p, calls]]);
    }
    let expectedBytes = 0;
    for (let c = 0; c < calls; c++) expectedBytes += recordsInCall(c) * 64 * PRODUCERS;
    expect((await store.get(SHARED_KEYS[0])).byteLength).toBe(expectedBytes);
  });

  it.concurrent('msgpack(file(dir)): every producer\'s values arrive whole and in its order', async () => {
    const calls = 150;
    const { dir, windows, readerOut, midway } = await runProducers('msgpack', calls);
    expect(Math.max(...windows.map((w) => w.start))).toBeLessThan(Math.min(...windows.map((w) => w.end)));
    expect(midway).toEqual([recordsAtHalf(calls), recordsAtHalf(calls)]);
    expect(Number(/^reads (\d+)/.exec(readerOut.at(-1)!)![1])).toBeGreaterThanOrEqual(2 * SHARED_KEYS.length);

    const store = track(msgpack(file(dir)));
    for (const key of SHARED_KEYS) expectAllCalls(checkRecords(parseMsgpack(await store.get(key as Key))), calls);
    for (let p = 0; p < PRODUCERS; p++) expect([...checkRecords(parseMsgpack(await store.get(`own-${p}`)))]).toEqual([[p, calls]]);
  });

  it('exclusive mode: another opener gets ERR_LOCKED, in this process and in another, until the owner closes', async () => {
    const dir = tempDir();
    const owner = track(file(dir, { exclusive: true }));
    await owner.append({ k: bytes('owner') });

    const second = (() => {
      try {
        track(file(dir, { exclusive: true }));
      } catch (error) {
        return error;
      }
    })();
    expect(isLaminateError(second, 'ERR_LOCKED')).toBe(true);

    const exclusiveChild = new Child('open-exclusive.ts', [dir, 'exclusive']);
    const sharedChild = new Child('open-exclusive.ts', [dir, 'shared']);
    expect(await exclusiveChild.success()).toEqual(['error ERR_LOCKED']);
    expect(await sharedChild.success()).toEqual(['opened', 'error ERR_LOCKED']);
    expect(await owner.keys()).toEqual(['k']);

    await owner.close();
    const after = new Child('open-exclusive.ts', [dir, 'exclusive']);
    expect(await after.success()).toEqual(['opened', 'appended']);
    const check = track(file(dir));
    expect(text(await check.get('fromChild'))).toBe('x');
  });
});

// ---------------------------------------------------------------- 3. SIGKILL, torn tails, repair

describe('file(): a writer killed with SIGKILL, torn tails and repair', () => {
  /** Starts writer.ts, lets it acknowledge at least `acks` appends, then kills it. Returns the last acknowledged index. */
  async function killMidStream(dir: string, layer: 'msgpack' | 'zlib', acks: number): Promise<number> {
    const writer = new Child('writer.ts', [dir, layer]);
    await writer.line((l) => Number(l) >= acks);
    expect(writer.process.kill('SIGKILL')).toBe(true);
    const { signal } = await writer.exited;
    expect(signal).toBe('SIGKILL');
    return Math.max(...writer.lines.map(Number));
  }

  /** get(), tolerating only a torn last value (the one the kill interrupted), which repair() must cut. */
  async function readAfterKill<V>(store: EncodeStore<V>, key: string): Promise<V> {
    try {
      return await store.get(key);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_CORRUPT_FRAME');
      expect(await store.repair(key)).toBeGreaterThan(0);
      return store.get(key);
    }
  }

  it.concurrent('msgpack(file(dir)): every acknowledged append survives; a torn tail is ERR_CORRUPT_FRAME until repaired', async () => {
    const dir = tempDir();
    const acked = await killMidStream(dir, 'msgpack', 300);

    // The dead writer may have held the directory lock: a small lockStaleMs takes it over.
    const store = track(msgpack(file(dir, { lockStaleMs: 2000, lockTimeoutMs: 20_000 })));
    const rows = (await readAfterKill(store, 'stream')) as unknown[];
    expect(rows.length).toBeGreaterThan(acked);
    rows.forEach((row, i) => expect(row).toEqual(msgpackRow(i)));
    const side = (await readAfterKill(store, 'side')) as unknown[];
    expect(side.length).toBeGreaterThan(acked);
    side.forEach((row, i) => expect(row).toEqual(msgpackRow(i)));
    await store.close();

    // Tear the tail: cut the last frame short by 3 bytes.
    const path = join(dir, 'stream');
    const whole = fs.readFileSync(path);
    const starts = frameStarts(whole);
    expect(starts.length).toBe(rows.length);
    const lastStart = starts.at(-1)!;
    fs.truncateSync(path, whole.length - 3);

    const torn = track(msgpack(file(dir)));
    const error = await rejection(torn.get('stream'));
    expect(isLaminateError(error, 'ERR_CORRUPT_FRAME')).toBe(true);
    expect(error.key).toBe(JSON.stringify('stream'));
    expect(error.offset).toBe(lastStart);
    expect(error.message).toContain('repair');

    // iter() yields every whole value, then reports the torn one.
    const seen: unknown[][] = [];
    const iterError = await rejection(
      (async () => {
        for await (const value of torn.iter('stream')) seen.push(value);
      })(),
    );
    expect(seen.length).toBe(rows.length - 1);
    expect(isLaminateError(iterError, 'ERR_CORRUPT_FRAME')).toBe(true);
    expect(iterError.offset).toBe(lastStart);

    // repair() cuts back to the last whole frame; the key then reads and takes appends again.
    expect(await torn.repair('stream')).toBe(whole.length - 3 - lastStart);
    expect(fs.statSync(path).size).toBe(lastStart);
    expect(await torn.get('stream')).toEqual(rows.slice(0, -1));
    expect(await torn.repair('stream')).toBe(0);
    await torn.append({ stream: [['after repair']] });
    expect(await torn.get('stream')).toEqual([...rows.slice(0, -1), ['after repair']]);
  });

  it.concurrent('zlib(file(dir)): every acknowledged append survives; half a frame appended is ERR_CORRUPT_FRAME until repaired', async () => {
    const dir = tempDir();
    const acked = await killMidStream(dir, 'zlib', 300);

    const store = track(zlib(file(dir, { lockStaleMs: 2000, lockTimeoutMs: 20_000 })));
    const stream = Buffer.from(await readAfterKill(store, 'stream')).toString();
    const values = stream.match(/\[\d+:z*\]/g) ?? [];
    expect(values.join('')).toBe(stream);
    expect(values.length).toBeGreaterThan(acked);
    values.forEach((v, i) => expect(v).toBe(zlibValue(i).toString()));
    await store.close();

    // Half a frame at the end: a header announcing 1000 bytes, and only 10 of them.
    const path = join(dir, 'stream');
    const before = fs.statSync(path).size;
    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(1000n);
    fs.appendFileSync(path, Buffer.concat([header, Buffer.alloc(10, 7)]));

    const torn = track(zlib(file(dir)));
    const error = await rejection(torn.get('stream'));
    expect(isLaminateError(error, 'ERR_CORRUPT_FRAME')).toBe(true);
    expect(error.key).toBe(JSON.stringify('stream'));
    expect(error.offset).toBe(before);
    // Only a few header bytes: still a torn frame, at the same offset.
    fs.truncateSync(path, before + 5);
    expect((await rejection(torn.get('stream'))).offset).toBe(before);

    expect(await torn.repair('stream')).toBe(5);
    expect(Buffer.from(await torn.get('stream')).toString()).toBe(stream);
    await torn.append({ stream: bytes('[tail]') });
    expect(Buffer.from(await torn.get('stream')).toString()).toBe(stream + '[tail]');
  });
});

// ---------------------------------------------------------------- 4. temporary stores

describe('file() with no path: a temporary directory', () => {
  it('exists while the store is open and is removed on close', async () => {
    const inner = file();
    const store = msgpack(inner);
    expect(inner.temporary).toBe(true);
    expect(fs.statSync(inner.path).isDirectory()).toBe(true);
    expect(inner.path.startsWith(fs.realpathSync(tmpdir())) || inner.path.startsWith(tmpdir())).toBe(true);
    await store.append({ a: [1, 2] });
    expect(await store.get('a')).toEqual([1, 2]);
    const other = file();
    expect(other.path).not.toBe(inner.path);
    await store.close();
    expect(fs.existsSync(inner.path)).toBe(false);
    // Closing one temporary store leaves the others alone.
    expect(fs.existsSync(other.path)).toBe(true);
    await other.close();
    expect(fs.existsSync(other.path)).toBe(false);
  });

  it.concurrent('is removed when the process ends normally without closing the store', async () => {
    const child = new Child('temporary-store.ts', ['exit']);
    const path = await child.line();
    expect(path.startsWith(tmpdir())).toBe(true);
    const { code } = await child.exited;
    expect(code).toBe(0);
    expect(child.stderr).toBe('');
    expect(fs.existsSync(path)).toBe(false);
  });

  it.concurrent.each(['SIGTERM', 'SIGINT'] as const)('is removed when the process is ended by %s, which still ends it', async (signal) => {
    const child = new Child('temporary-store.ts', ['wait']);
    const path = await child.line();
    await child.line((l) => l === 'ready');
    expect(fs.statSync(path).isDirectory()).toBe(true);
    child.process.kill(signal);
    const ended = await Promise.race([child.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 5000))]);
    expect(ended).toEqual({ code: null, signal });
    expect(fs.existsSync(path)).toBe(false);
  });

  it.concurrent('is kept while the program handles SIGTERM itself, and removed when it then exits', async () => {
    const child = new Child('temporary-store.ts', ['handle']);
    const path = await child.line();
    await child.line((l) => l === 'ready');
    child.process.kill('SIGTERM');
    expect(await child.success()).toEqual([path, 'ready', 'exists true', 'a [1,2,3,4]']);
    expect(fs.existsSync(path)).toBe(false);
  });
});

// ---------------------------------------------------------------- 5. bounded cache of open files

describe('file(): a bounded cache of open files', () => {
  const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

  it('keeps at most maxOpenFiles descriptors open however many keys are written', async () => {
    const before = openDescriptors();
    const store = track(file(tempDir(), { maxOpenFiles: 16 }));
    for (let round = 0; round < 3; round++) {
      await store.append(Array.from({ length: 500 }, (_, k) => [`k${k}`, bytes(`${round}`)] as const));
      // 16 cached appends + the generation file + the lock file, which stays open while the lock is held
      // (calls that follow at once share it, so it may still be held here).
      expect(openDescriptors() - before).toBeLessThanOrEqual(18);
    }
    const values = await store.getMany(Array.from({ length: 500 }, (_, k) => `k${k}`));
    for (const v of values) expect(text(v)).toBe('012');
    await store.close();
    expect(openDescriptors()).toBeLessThanOrEqual(before);
  });

  it.concurrent('10,000 keys work under `ulimit -n 256`', async () => {
    const dir = tempDir();
    const child = new Child('many-keys.ts', [dir, '10000', '3'], { ulimitFiles: 256 });
    const out = await child.success();
    expect(out[0]).toBe('limit 256');
    expect(out.at(-1)).toBe('ok 10000');
    const peak = Number(out.find((l) => l.startsWith('peak '))!.split(' ')[1]);
    expect(peak).toBeLessThan(256);
    // And the data is there for anyone who opens the directory afterwards.
    const store = track(file(dir));
    expect((await store.keys()).length).toBe(10_000);
    expect(text(await store.get('key-9998'))).toBe('9998.0;9998.1;9998.2;');
    expect(text(await store.get(['group', String(9999 % 7), 'k9999']))).toBe('9999.0;9999.1;9999.2;');
  });
});

// ---------------------------------------------------------------- 6. fsync

describe('file({ fsync: true })', () => {
  /** Records the path of every descriptor fs.fsyncSync is called on, during `fn`. */
  async function fsyncedPaths(fn: () => Promise<void>): Promise<string[]> {
    const paths: string[] = [];
    const real = fs.fsyncSync;
    const spy = vi.spyOn(fsModule, 'fsyncSync').mockImplementation((fd: number) => {
      paths.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      real(fd);
    });
    // The store imports node:fs as a namespace: publish the spy to it.
    syncBuiltinESMExports();
    try {
      await fn();
    } finally {
      spy.mockRestore();
      syncBuiltinESMExports();
    }
    return paths;
  }

  it('syncs every file an append wrote, and the folders of files it created, before the append resolves', async () => {
    const dir = fs.realpathSync(tempDir());
    const store = track(file(dir, { fsync: true }));
    const synced = await fsyncedPaths(() =>
      store.append([
        ['a', bytes('1')],
        ['b', bytes('2')],
        ['a', bytes('3')],
        [['t', 'u'], bytes('4')],
      ]),
    );
    expect(synced).toEqual(expect.arrayContaining([join(dir, 'a'), join(dir, 'b'), join(dir, 't%d', 'u'), dir, join(dir, 't%d')]));
    // One sync per file, however many values it received.
    expect(synced.filter((p) => p === join(dir, 'a'))).toHaveLength(1);
    expect(text(await store.get('a'))).toBe('13');
    expect(text(await store.get(['t', 'u']))).toBe('4');

    // Appending to files that already exist syncs the files only.
    const again = await fsyncedPaths(() => store.append({ a: bytes('5'), b: bytes('6') }));
    expect(again.sort()).toEqual([join(dir, 'a'), join(dir, 'b')]);

    // iset syncs its value too.
    const meta = await fsyncedPaths(() => store.iset('m', bytes('meta')));
    expect(meta.length).toBeGreaterThan(0);
    expect(text(await store.iget('m'))).toBe('meta');
    await store.close();

    const reopened = track(file(dir));
    expect(text(await reopened.get('a'))).toBe('135');
    expect(text(await reopened.get('b'))).toBe('26');
  });

  it('does not sync without the option', async () => {
    const store = track(file(tempDir()));
    expect(await fsyncedPaths(() => store.append({ a: bytes('1'), b: bytes('2') }))).toEqual([]);
    expect(text(await store.get('a'))).toBe('1');
  });
});

// ---------------------------------------------------------------- 7. iset and delete across processes

describe('file(): iset and delete across processes', () => {
  it.concurrent('iset: the first value wins across two racing processes and across reopen', async () => {
    const dir = tempDir();
    const keys = 100;
    const racers = [new Child('iset-race.ts', [dir, 'A', String(keys)]), new Child('iset-race.ts', [dir, 'B', String(keys)])];
    await Promise.all(racers.map((r) => r.line((l) => l === 'ready')));
    for (const r of racers) r.send('go');
    const [seenA, seenB] = await Promise.all(racers.map(async (r) => JSON.parse((await r.success()).at(-1)!) as string[]));
    // Both processes agree on every key, and every key holds one of the two values, whole.
    expect(seenA).toEqual(seenB);
    for (const v of seenA) expect(['A', 'B']).toContain(v);

    const store = track(file(dir));
    for (let k = 0; k < keys; k++) {
      await store.iset(`m${k}`, bytes('late'));
      expect(text(await store.iget(`m${k}`))).toBe(seenA[k]);
    }
    await store.close();

    const later = new Child('ops.ts', [dir, JSON.stringify([['iset', 'm0', 'later'], ['iget', 'm0'], ['iget', `m${keys - 1}`]])]);
    expect(await later.success()).toEqual([JSON.stringify(seenA[0]), JSON.stringify(seenA[keys - 1])]);
  });

  it.concurrent('an append after another process deleted the key is not lost (no stale cached descriptor)', async () => {
    const dir = tempDir();
    const a = track(file(dir));
    await a.append({ k: bytes('a1;') });

    await new Child('ops.ts', [dir, JSON.stringify([['delete', ['k']]])]).success();
    expect(text(await a.get('k'))).toBe('');
    await a.append({ k: bytes('a2;') });
    expect(text(await a.get('k'))).toBe('a2;');
    expect(await new Child('ops.ts', [dir, JSON.stringify([['get', 'k']])]).success()).toEqual([JSON.stringify('a2;')]);

    // Deleted and written again elsewhere: this process appends after the other's value.
    await new Child('ops.ts', [dir, JSON.stringify([['delete', ['k']], ['append', 'k', 'b1;']])]).success();
    await a.append({ k: bytes('a3;') });
    expect(text(await a.get('k'))).toBe('b1;a3;');

    // drop() elsewhere removes the folders of tuple keys this process holds open.
    await a.append([[['grp', 'x'], bytes('before drop;')]]);
    await new Child('ops.ts', [dir, JSON.stringify([['drop']])]).success();
    await a.append([[['grp', 'x'], bytes('after drop;')]]);
    expect(text(await a.get(['grp', 'x']))).toBe('after drop;');
    expect(text(await a.get('k'))).toBe('');
    expect(await new Child('ops.ts', [dir, JSON.stringify([['get', ['grp', 'x']]])]).success()).toEqual([JSON.stringify('after drop;')]);
  });
});

// ---------------------------------------------------------------- 8. the partd layout

describe("file(dir, { layout: 'partd' }): partd's names, tuple keys as nested folders", () => {
  const partd = { layout: 'partd' } as const;
  /** The paths under `dir`, relative, without the store's own top-level dot names. */
  const dataPaths = (dir: string) => walkTree(dir).map(({ path }) => relative(dir, path)).filter((path) => !path.startsWith('.')).sort();
  async function chunks(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for await (const chunk of iterable) out.push(chunk);
    return out;
  }

  it('keeps a plain key under its own name and a tuple as nested folders, lists them back, and reopens the layout from describe()', async () => {
    const dir = tempDir();
    const store = track(file(dir, partd));
    const keys: Key[] = ['plain', 'a.b', 'x y', 'f(1)', '-', ['a', 'b'], ['a', 'c', 'd'], ['n', 1], ['n', 2.5], ['df', '.columns'], ['_', '.'.repeat(3)], 'k'.repeat(255)];
    await store.append(keys.map((k, i) => [k, bytes(`v${i};`)] as const));
    await store.append([[['a', 'b'], bytes('again;')]]);
    expect(dataPaths(dir)).toEqual(['-', '_', '_/...', 'a', 'a/b', 'a/c', 'a/c/d', 'a.b', 'df', 'df/.columns', 'f(1)', 'k'.repeat(255), 'n', 'n/1', 'n/2.5', 'plain', 'x y'].sort());
    expect(fs.readFileSync(join(dir, 'a', 'b'), 'utf8')).toBe('v5;again;');
    expect(fs.readFileSync(join(dir, 'n', '2.5'), 'utf8')).toBe('v8;');
    expect(store.fileOf(['a', 'c', 'd'])).toBe(join(dir, 'a', 'c', 'd'));
    const listed = keys.map((k) => (Array.isArray(k) ? k.map(String) : k));
    expect(sortedJson(await store.keys())).toEqual(sortedJson(listed));

    const spec = store.describe();
    expect(spec).toEqual({ type: 'file', path: dir, layout: 'partd' });
    await store.close();
    for (const again of [open<Uint8Array>(JSON.parse(JSON.stringify(spec))), open<Uint8Array>(`file("${dir}", layout=partd)`)]) {
      track(again);
      expect(again.describe()).toEqual(spec);
      expect(sortedJson(await again.keys())).toEqual(sortedJson(listed));
      expect(text(await again.get(['a', 'b']))).toBe('v5;again;');
    }
    // The default layout is not recorded, and is what it always was: 'a%d/b'.
    const plainDir = tempDir();
    const escaped = track(file(plainDir, { layout: 'escaped' }));
    expect(escaped.describe()).toEqual({ type: 'file', path: plainDir });
    await escaped.append([[['a', 'b'], bytes('x')]]);
    expect(dataPaths(plainDir)).toEqual(['a%d', 'a%d/b']);
  });

  it('refuses, with ERR_INVALID_KEY, parts partd would rename and parts that could leave the directory or meet its own files, before writing anything', async () => {
    const parent = tempDir();
    const dir = join(parent, 'store');
    const store = track(file(dir, partd));
    const hostile: Key[] = [
      '', '.', '..', '../x', '../../escaped', '/abs', join(parent, 'escaped-absolute'), '/', 'a/b', 'a/../b', 'a\\b', '\\', '..\\x',
      'nul\0inside', '\0', 'é', '日本', '🦊', 'tab\there', 'new\nline', '%41', 'a%d', '*', '?', ':', '"', '<', '|', "'", '+',
      'x'.repeat(256), '.hidden', '.laminate.lock', '.laminate.gen', '.iset', '.lock',
      ['a', '..'], ['..', 'a'], ['.', 'a'], ['a', '.'], ['a', ''], ['', 'a'], ['a', 'b/c'], ['a', '/'], ['.iset', 'x'], ['.lock', 'x'], ['a', 'x'.repeat(256)], ['a', 'é'], ['n', 1e21],
    ];
    for (const key of hostile) {
      const error = await rejection(store.append([['fine', bytes('x')], [key, bytes('y')]]));
      expect(isLaminateError(error, 'ERR_INVALID_KEY'), JSON.stringify(key)).toBe(true);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/partd layout: .*; .*or use file\(\) without layout: 'partd'/);
      await expect(store.get(key)).rejects.toMatchObject({ code: 'ERR_INVALID_KEY' });
      await expect(store.delete(['fine', key])).rejects.toMatchObject({ code: 'ERR_INVALID_KEY' });
    }
    // Nothing of those calls was written (not even the key beside them), and nothing outside the store.
    expect(fs.readdirSync(parent)).toEqual(['store']);
    expect(fs.readdirSync(dir).filter((name) => name !== '.laminate.lock')).toEqual([]);

    // iset values are laminate's own metadata, under .iset/ with the default layout's escaped names: any key.
    for (const key of hostile) await store.iset(key, bytes('meta'));
    for (const key of hostile) expect(text(await store.iget(key))).toBe('meta');
    expect(await store.keys()).toEqual([]);
    expect(fs.readdirSync(parent)).toEqual(['store']);
    const real = fs.realpathSync(dir) + sep;
    for (const { path, stat } of walkTree(dir)) {
      expect(stat.isSymbolicLink(), path).toBe(false);
      expect(fs.realpathSync(path).startsWith(real), path).toBe(true);
      expect(relative(dir, path).split(sep)[0], path).toMatch(/^\.(iset|laminate\.gen|laminate\.lock)$/);
    }
  });

  it("refuses a key whose name the other kind holds ('a' and ['a', 'b']) with ERR_INVALID_KEY, in one call or across calls, and writes nothing of that call", async () => {
    const dir = tempDir();
    const store = track(file(dir, partd));
    await store.append({ a: bytes('plain a') });

    // Under a plain key: the tuple's folder would be a file (here, one open in the descriptor cache).
    let error = await rejection(store.append([['b', bytes('b')], [['a', 'b'], bytes('x')]]));
    expect(isLaminateError(error, 'ERR_INVALID_KEY')).toBe(true);
    expect(error.key).toBe('["a","b"]');
    expect(error.message).toContain('"a" there is not a folder but the file of the key "a"');
    expect(error.message).toContain('Delete that key first');
    expect(fs.existsSync(join(dir, 'b'))).toBe(false);
    // The same from a store with nothing cached, and deeper.
    const other = track(file(dir, partd));
    for (const key of [['a', 'b'], ['a', 'b', 'c']]) {
      error = await rejection(other.append([[key, bytes('x')]]));
      expect(isLaminateError(error, 'ERR_INVALID_KEY'), JSON.stringify(key)).toBe(true);
      expect(error.message).toContain('the file of the key "a"');
    }

    // A plain key (or a shorter tuple) where longer tuple keys have their folder.
    await store.append([[['t', 'u'], bytes('tu')], [['t', 'v', 'w'], bytes('tvw')]]);
    for (const key of ['t', ['t', 'v']]) {
      error = await rejection(other.append([[key, bytes('x')]]));
      expect(isLaminateError(error, 'ERR_INVALID_KEY'), JSON.stringify(key)).toBe(true);
      expect(error.message).toContain('the folder of tuple keys that start with');
      expect(error.message).toContain('Delete those tuple keys first');
    }

    // Both new in one call, in either order.
    for (const pair of [[[['n', 'm'], bytes('1')], ['n', bytes('2')]], [['n', bytes('2')], [['n', 'm'], bytes('1')]]] as [Key, Buffer][][]) {
      error = await rejection(store.append(pair));
      expect(isLaminateError(error, 'ERR_INVALID_KEY')).toBe(true);
      expect(error.message).toContain('Append only one of them');
      expect(fs.existsSync(join(dir, 'n'))).toBe(false);
    }

    // Reading or deleting a key whose name the other kind holds finds nothing and harms nothing (no EISDIR, no ENOTDIR).
    expect(text(await store.get('t'))).toBe('');
    expect(text(await store.get(['a', 'b']))).toBe('');
    expect((await store.readRanges([{ key: 't', offset: 0, length: 10 }, { key: ['a', 'b', 'c'], offset: 0, length: 10 }])).map(text)).toEqual(['', '']);
    expect(await chunks(store.iter('t'))).toEqual([]);
    expect(await chunks(store.iter(['a', 'b']))).toEqual([]);
    await store.delete(['t', ['a', 'b'], ['t', 'v']]);
    expect(text(await store.get(['t', 'v', 'w']))).toBe('tvw');
    expect(text(await store.get('a'))).toBe('plain a');
    expect(sortedJson(await store.keys())).toEqual(sortedJson(['a', ['t', 'u'], ['t', 'v', 'w']]));

    // Deleting every tuple key under a name frees it: delete removes the folders it leaves empty.
    await store.delete([['t', 'u'], ['t', 'v', 'w']]);
    expect(fs.existsSync(join(dir, 't'))).toBe(false);
    await store.append({ t: bytes('plain t now') });
    expect(text(await store.get('t'))).toBe('plain t now');
    await store.delete(['a']);
    await store.append([[['a', 'b'], bytes('tuple now')]]);
    expect(text(await other.get(['a', 'b']))).toBe('tuple now');

    // A folder another program left empty (partd never removes folders) is not removed: the error names it.
    fs.mkdirSync(join(dir, 'empty'));
    error = await rejection(store.append({ empty: bytes('x') }));
    expect(isLaminateError(error, 'ERR_INVALID_KEY')).toBe(true);
    expect(error.message).toContain('"empty" there is an empty folder');
    expect(error.message).toContain('Remove that empty folder');
    expect(fs.statSync(join(dir, 'empty')).isDirectory()).toBe(true);
  });

  it("whyNotAStore(dir, { layout: 'partd' }) accepts what that layout writes and partd's .lock, and still names a stray file", async () => {
    const dir = tempDir();
    const store = track(file(dir, partd));
    await store.append([[['a', 'b'], bytes('x')], ['x y', bytes('y')], [['df', '.columns'], bytes('c')]]);
    await store.iset(['m', 'n'], bytes('meta'));
    await store.close();
    fs.writeFileSync(join(dir, '.lock'), '');
    expect(whyNotAStore(dir, partd)).toBeUndefined();
    // The default layout writes none of these names.
    expect(whyNotAStore(dir)).toMatch(/^it holds .*, which file\(\) does not write$/);
    fs.writeFileSync(join(dir, 'a', 'stray!'), 'x');
    expect(whyNotAStore(dir, partd)).toBe(`it holds ${join('a', 'stray!')}, which file() does not write`);
  });

  it('refuses a layout it does not know with ERR_INVALID_OPTION', async () => {
    for (const make of [() => file(tempDir(), { layout: 'nested' as 'partd' }), () => open({ type: 'file', path: tempDir(), layout: 'PARTD' })]) {
      let error: unknown;
      try {
        make();
      } catch (caught) {
        error = caught;
      }
      expect(isLaminateError(error, 'ERR_INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toContain("layout must be 'escaped' (the default) or 'partd'");
    }
  });
});

// ---------------------------------------------------------------- 9. what laminate did not write

/** Every entry under `dir` but the transient lock, links not followed: a folder, where a link points, or a file's bytes. */
function snapshot(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const { path, stat } of walkTree(dir)) {
    const name = relative(dir, path);
    if (name.split(sep).includes('.laminate.lock')) continue;
    entries[name] = stat.isSymbolicLink() ? `link → ${fs.readlinkSync(path)}` : stat.isDirectory() ? 'folder' : `file ${fs.readFileSync(path).toString('base64')}`;
  }
  return entries;
}

/** The entries of a snapshot at or under `names`. */
function under(entries: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter(([path]) => names.some((name) => path === name || path.startsWith(name + sep))));
}

async function chunksOf(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

/** What a user keeps beside a store by mistake: a git repository, a dotfile, nested folders, a link to a file outside. */
function plantCommon(dir: string, outsideFile: string): void {
  fs.mkdirSync(join(dir, '.git', 'objects', 'ab'), { recursive: true });
  fs.writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  fs.writeFileSync(join(dir, '.git', 'objects', 'ab', 'cdef'), Buffer.from([0, 1, 2, 255]));
  fs.writeFileSync(join(dir, '.env'), 'TOKEN=secret\n');
  fs.symlinkSync(outsideFile, join(dir, 'link'));
}

describe('file(): drop() deletes only what the store wrote', () => {
  it('refuses, with ERR_FOREIGN_FILES naming them, a directory holding .git, a dotfile, names with spaces, nested folders and a link, and deletes nothing; { foreign: "keep" } deletes the keys and leaves every other byte', async () => {
    const parent = tempDir();
    const dir = join(parent, 'store');
    const outsideFile = join(parent, 'outside.txt');
    fs.writeFileSync(outsideFile, 'outside, keep me');
    const store = track(file(dir));
    await store.append([['k', bytes('key')], [['t', 'u'], bytes('tuple')], ['x'.repeat(300), bytes('long')], ['with space', bytes('escaped')]]);
    await store.iset('meta', bytes('m'));
    plantCommon(dir, outsideFile);
    fs.writeFileSync(join(dir, 'my notes.txt'), 'do not lose\n');
    fs.mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(join(dir, 'sub', 'deeper', 'y.txt'), 'nested\n');
    fs.writeFileSync(join(dir, 't%d', 'my notes.txt'), 'beside a key\n'); // inside a folder the store made
    const foreign = ['.env', '.git', 'link', 'my notes.txt', 'sub', join('t%d', 'my notes.txt')];
    const before = snapshot(parent);

    const error = await rejection(store.drop());
    expect(isLaminateError(error, 'ERR_FOREIGN_FILES')).toBe(true);
    expect(error.message).toBe(
      `Refusing to drop ${dir}: it holds 6 entries that file() did not write (.env, .git, link, my notes.txt, sub, and 1 more), and drop deletes only the store's own files. Nothing was deleted. Move them out of the store's directory, or drop with file(dir).drop({ foreign: 'keep' }), which deletes the store's keys and metadata and leaves them.`,
    );
    expect(snapshot(parent)).toEqual(before);
    expect(sortedJson(await store.keys())).toEqual(sortedJson(['k', ['t', 'u'], 'x'.repeat(300), 'with space']));
    // drop() under an encoding layer is the same call.
    expect(await rejection(msgpack(file(dir)).drop())).toMatchObject({ code: 'ERR_FOREIGN_FILES' });
    await expect(store.drop({ foreign: 'delete' as 'keep' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(snapshot(parent)).toEqual(before);

    await store.drop({ foreign: 'keep' });
    const after = snapshot(parent);
    expect(under(after, foreign.map((name) => join('store', name)))).toEqual(under(before, foreign.map((name) => join('store', name))));
    expect(after['outside.txt']).toBe(before['outside.txt']);
    // Of the store's own entries only its generation file stays, and the folder that holds a foreign file.
    expect(Object.keys(under(after, ['store'])).filter((path) => !foreign.some((name) => path === join('store', name) || path.startsWith(join('store', name) + sep))).sort()).toEqual(
      ['store', join('store', '.laminate.gen'), join('store', 't%d')].sort(),
    );
    expect(await store.keys()).toEqual([]);
    expect(text(await store.iget('meta'))).toBe('');
    await store.append({ k: bytes('again') });
    expect(text(await store.get('k'))).toBe('again');
  });

  it("layout 'partd': names partd does not write are foreign, names it does are keys, partd's .lock stays", async () => {
    const parent = tempDir();
    const dir = join(parent, 'store');
    const outsideFile = join(parent, 'outside.txt');
    fs.writeFileSync(outsideFile, 'outside, keep me');
    const store = track(file(dir, { layout: 'partd' }));
    await store.append([['k', bytes('key')], [['t', 'u'], bytes('tuple')], [['sub', 'deeper', 'z'], bytes('deep')]]);
    await store.iset(['m', 'n'], bytes('meta'));
    fs.writeFileSync(join(dir, '.lock'), '');
    // A store of its own and partd's lock: drop() deletes the keys and leaves partd's lock.
    const plain = join(parent, 'plain');
    const plainStore = track(file(plain, { layout: 'partd' }));
    await plainStore.append([[['a', 'b'], bytes('x')]]);
    fs.writeFileSync(join(plain, '.lock'), 'partd');
    await plainStore.drop();
    expect(Object.keys(snapshot(plain)).sort()).toEqual(['.laminate.gen', '.lock']);

    plantCommon(dir, outsideFile);
    fs.writeFileSync(join(dir, 'my notes, v2.txt'), 'a comma: no partd name\n');
    fs.writeFileSync(join(dir, 'naïve.txt'), 'not ASCII\n');
    fs.writeFileSync(join(dir, 'sub', 'deeper', 'y!.txt'), 'beside a key\n');
    // A name partd could have written is a key of this layout, as partd.File(dir) would read it.
    fs.writeFileSync(join(dir, 'my notes.txt'), 'a key here\n');
    const foreign = ['.env', '.git', 'link', 'my notes, v2.txt', 'naïve.txt', join('sub', 'deeper', 'y!.txt')];
    const before = snapshot(parent);

    const error = await rejection(store.drop());
    expect(isLaminateError(error, 'ERR_FOREIGN_FILES')).toBe(true);
    expect(error.message).toContain('it holds 6 entries that file() did not write (.env, .git, link, my notes, v2.txt, naïve.txt, and 1 more)');
    expect(snapshot(parent)).toEqual(before);

    await store.drop({ foreign: 'keep' });
    const after = snapshot(parent);
    const kept = [...foreign, '.lock'].map((name) => join('store', name));
    expect(under(after, kept)).toEqual(under(before, kept));
    expect(after['outside.txt']).toBe(before['outside.txt']);
    expect(Object.keys(under(after, ['store'])).filter((path) => !kept.some((name) => path === name || path.startsWith(name + sep))).sort()).toEqual(
      ['store', join('store', '.laminate.gen'), join('store', 'sub'), join('store', 'sub', 'deeper')].sort(),
    );
    expect(await store.keys()).toEqual([]);
  });
});

describe('file(): symbolic links it did not make', () => {
  /** A store directory and, beside it, an outside directory with a file and a folder a link may point to. */
  function planted() {
    const parent = tempDir();
    const dir = join(parent, 'store');
    const outside = join(parent, 'outside');
    fs.mkdirSync(join(outside, 'dir'), { recursive: true });
    fs.writeFileSync(join(outside, 'target.txt'), 'precious outside bytes');
    fs.writeFileSync(join(outside, 'dir', 'b'), 'secret b');
    fs.writeFileSync(join(outside, 'dir', 'empty'), '');
    return { parent, dir, outside };
  }

  /** Expects ERR_SYMLINK naming the link at `link` (and `key`, when given) from `attempt`. */
  async function refused(attempt: () => Promise<unknown>, link: string, key?: Key) {
    const error = await rejection(attempt());
    expect(isLaminateError(error, 'ERR_SYMLINK'), `${error}`).toBe(true);
    expect(error.message).toContain(`${link} is a symbolic link, which file() did not make and does not follow`);
    expect(error.message).toContain('Remove the link');
    if (key !== undefined) expect(error.key).toBe(JSON.stringify(key));
  }

  for (const layout of ['escaped', 'partd'] as const) {
    const folder = (name: string) => (layout === 'partd' ? name : `${name}%d`);

    it(`${layout} layout: a link in a key's place is ERR_SYMLINK for append, get, iter, readRanges and delete, and keys() passes it over; the file it points to is unchanged`, async () => {
      const { parent, dir, outside } = planted();
      const store = track(file(dir, { layout }));
      await store.append({ fine: bytes('ok') });
      fs.symlinkSync(join(outside, 'target.txt'), join(dir, 'evil'));
      const before = snapshot(parent);
      const link = join(dir, 'evil');
      for (const reopen of [false, true]) {
        const s = reopen ? track(file(dir, { layout })) : store;
        await refused(() => s.append([['fine', bytes('more')], ['evil', bytes('written outside?')]]), link, 'evil');
        await refused(() => s.get('evil'), link, 'evil');
        await refused(() => s.getMany(['fine', 'evil']), link, 'evil');
        await refused(() => chunksOf(s.iter('evil')), link, 'evil');
        await refused(() => s.readRanges([{ key: 'evil', offset: 0, length: 4 }]), link, 'evil');
        // delete removes only the key's own file: the call is refused before it deletes anything.
        await refused(() => s.delete(['fine', 'evil']), link, 'evil');
        expect(await s.keys()).toEqual(['fine']);
      }
      const after = snapshot(parent);
      expect(under(after, ['outside', join('store', 'evil')])).toEqual(under(before, ['outside', join('store', 'evil')]));
    });

    it(`${layout} layout: a link in place of a tuple key's folder, at any depth, is ERR_SYMLINK before anything is written, read or deleted through it`, async () => {
      const { parent, dir, outside } = planted();
      const store = track(file(dir, { layout }));
      await store.append([[['c', 'real'], bytes('made by the store')]]);
      fs.symlinkSync(join(outside, 'dir'), join(dir, folder('a')));
      fs.symlinkSync(join(outside, 'dir'), join(dir, folder('c'), folder('d')));
      const before = snapshot(parent);
      const cases: [Key, string][] = [
        [['a', 'b'], join(dir, folder('a'))],
        [['a', 'new'], join(dir, folder('a'))],
        [['a', 'empty'], join(dir, folder('a'))], // an empty file there is no file this call made
        [['a', 'e', 'f'], join(dir, folder('a'))],
        [['c', 'd', 'b'], join(dir, folder('c'), folder('d'))],
      ];
      for (const reopen of [false, true]) {
        const s = reopen ? track(file(dir, { layout })) : store;
        for (const [key, link] of cases) {
          await refused(() => s.append([[key, bytes('written outside?')]]), link, key);
          await refused(() => s.get(key), link, key);
          await refused(() => chunksOf(s.iter(key)), link, key);
          await refused(() => s.readRanges([{ key, offset: 0, length: 4 }]), link, key);
          await refused(() => s.delete([key]), link, key);
        }
        expect(sortedJson(await s.keys())).toEqual(sortedJson([['c', 'real']]));
      }
      expect(snapshot(parent)).toEqual(before);
      expect(text(await store.get(['c', 'real']))).toBe('made by the store');
    });
  }

  it('.laminate.gen as a link: file() refuses to open the directory, and a store opened before it was planted neither reads nor writes through it', async () => {
    const { parent, dir } = planted();
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'precious.txt'), 'precious: these first 8 bytes matter');
    fs.symlinkSync('precious.txt', join(dir, '.laminate.gen'));
    const before = snapshot(parent);
    let error: unknown;
    try {
      file(dir);
    } catch (caught) {
      error = caught;
    }
    expect(isLaminateError(error, 'ERR_SYMLINK')).toBe(true);
    expect((error as Error).message).toContain(`${join(dir, '.laminate.gen')} is a symbolic link`);

    // Opening a directory writes nothing, so the link may come after the store opened.
    const later = join(parent, 'later');
    const store = track(file(later));
    fs.writeFileSync(join(later, 'precious.txt'), 'precious: these first 8 bytes matter');
    fs.symlinkSync('precious.txt', join(later, '.laminate.gen'));
    const link = join(later, '.laminate.gen');
    await refused(() => store.delete(['a']), link);
    await refused(() => store.append({ a: bytes('x') }), link);
    await refused(() => store.get('a'), link);
    // The failed calls let go of the lock: once the link is gone the store works.
    fs.unlinkSync(link);
    await store.append({ a: bytes('x') });
    await store.delete(['a']);
    expect(fs.readFileSync(join(later, 'precious.txt'), 'utf8')).toBe('precious: these first 8 bytes matter');
    expect(under(snapshot(parent), ['store', 'outside'])).toEqual(under(before, ['store', 'outside']));
  });

  it('.laminate.lock as a link: calls and an exclusive open are ERR_SYMLINK at once, not a wait for a lock no one holds; nothing behind it changes', async () => {
    const { parent, dir, outside } = planted();
    const store = track(file(dir, { lockTimeoutMs: 3000 }));
    await store.append({ a: bytes('x') });
    await store.close();
    fs.symlinkSync(join(outside, 'dir'), join(dir, '.laminate.lock'));
    const before = snapshot(parent);
    const link = join(dir, '.laminate.lock');
    const shared = track(file(dir, { lockTimeoutMs: 3000 }));
    const started = Date.now();
    await refused(() => shared.get('a'), link);
    await refused(() => shared.append({ a: bytes('y') }), link);
    expect(Date.now() - started).toBeLessThan(2000);
    let error: unknown;
    try {
      file(dir, { exclusive: true });
    } catch (caught) {
      error = caught;
    }
    expect(isLaminateError(error, 'ERR_SYMLINK')).toBe(true);
    // A link to something old enough to pass for a stale lock: still refused, and what it points to stays.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(join(outside, 'dir'), old, old);
    const mtime = fs.statSync(join(outside, 'dir')).mtimeMs;
    await refused(() => shared.get('a'), link);
    expect(snapshot(parent)).toEqual(before);
    expect(fs.statSync(join(outside, 'dir')).mtimeMs).toBe(mtime);
  });

  it('.iset as a link, or links inside it: iset and iget are ERR_SYMLINK and nothing is written or read outside', async () => {
    const { parent, dir, outside } = planted();
    const store = track(file(dir));
    await store.append({ a: bytes('x') });
    fs.writeFileSync(join(outside, 'dir', 'meta'), 'outside meta');
    fs.symlinkSync(join(outside, 'dir'), join(dir, '.iset'));
    let before = snapshot(parent);
    await refused(() => store.iset('fresh', bytes('m')), join(dir, '.iset'), 'fresh');
    await refused(() => store.iset(['m', 'n'], bytes('m')), join(dir, '.iset'), ['m', 'n']);
    await refused(() => store.iget('meta'), join(dir, '.iset'), 'meta');
    expect(snapshot(parent)).toEqual(before);

    // A real .iset folder with links planted in it.
    fs.unlinkSync(join(dir, '.iset'));
    await store.iset('ok', bytes('fine'));
    fs.symlinkSync(join(outside, 'dir', 'meta'), join(dir, '.iset', 'meta'));
    fs.symlinkSync(join(outside, 'dir'), join(dir, '.iset', 'm%d'));
    before = snapshot(parent);
    await refused(() => store.iget('meta'), join(dir, '.iset', 'meta'), 'meta');
    await refused(() => store.iset('meta', bytes('m')), join(dir, '.iset', 'meta'), 'meta');
    await refused(() => store.iset(['m', 'new'], bytes('m')), join(dir, '.iset', 'm%d'), ['m', 'new']);
    await refused(() => store.iget(['m', 'b']), join(dir, '.iset', 'm%d'), ['m', 'b']);
    expect(snapshot(parent)).toEqual(before);
    expect(text(await store.iget('ok'))).toBe('fine');
  });

  it("a long key's sidecar planted as a link: the append is ERR_SYMLINK and creates nothing where it points", async () => {
    const { parent, dir, outside } = planted();
    const store = track(file(dir));
    await store.append({ a: bytes('x') });
    const long = 'k'.repeat(300);
    const sidecar = join(dir, `.%h${createHash('sha256').update(long).digest('hex')}`);
    fs.symlinkSync(join(outside, 'new.txt'), sidecar);
    const before = snapshot(parent);
    await refused(() => store.append({ [long]: bytes('v') }), sidecar, long);
    expect(fs.existsSync(join(outside, 'new.txt'))).toBe(false);
    expect(under(snapshot(parent), ['outside', relative(parent, sidecar)])).toEqual(under(before, ['outside', relative(parent, sidecar)]));
  });
});
