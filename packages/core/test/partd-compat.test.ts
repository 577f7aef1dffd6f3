/**
 * Compatibility with the real Python partd, both ways: directories written by
 * partd.File, partd.ZLib(partd.File) and partd.Python(partd.File) read the same
 * through file(), zlib(file()) and msgpack(file()), and the reverse; with
 * tuple keys, through file(dir, { layout: 'partd' }), which nests them as
 * partd does (and partd.PandasColumns' directories, whose keys are tuples).
 *
 * The Python side is fixtures/partd_compat.py, run with Debian's Python. On a
 * machine without it these tests fail, saying what to install; they never skip.
 */
import { DEBIAN_PYTHON, pythonFixture, runPython } from './fixtures/python.js';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Key, file, isLaminateError, msgpack, zlib } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { splitFrames } from '@laminate/core/layer';

const PYTHON = DEBIAN_PYTHON;
const SCRIPT = fileURLToPath(new URL('./fixtures/partd_compat.py', import.meta.url));
const INSTALL = 'apt-get install -y python3-partd python3-msgpack';

// ---------------------------------------------------------------- the Python side

interface Check {
  partd?: string;
  msgpack?: string;
  pythonLayerUsesMsgpack?: boolean;
  problems?: string[];
  error?: string;
}

/** Why Python partd cannot serve as the reference here, with what to install; undefined when it can. */
function partdProblem(python = PYTHON, pythonArgs: string[] = []): string | undefined {
  const run = runPython(SCRIPT, ['check'], pythonArgs, python);
  let detail: string | undefined;
  if (run.error) {
    detail = `${python} cannot be run (${run.error.message})`;
  } else {
    let report: Check = {};
    try {
      report = JSON.parse(run.stdout) as Check;
    } catch {
      // not JSON: reported below with stderr
    }
    if (report.error) detail = report.error;
    else if (report.pythonLayerUsesMsgpack === false) detail = `partd.Python would not use msgpack: ${report.problems?.join('; ')}`;
    else if (run.status !== 0 || !report.partd) detail = `${python} ${SCRIPT} check exited with ${run.status}: ${run.stderr.trim() || run.stdout.trim()}`;
  }
  if (detail === undefined) return undefined;
  return [
    `The Python partd compatibility tests need Python partd with msgpack, and ${python} cannot provide them: ${detail}.`,
    `Install them (Debian/Ubuntu, as root): ${INSTALL}`,
    `These tests run Debian's ${PYTHON}, not the first python3 on PATH; .ci/run installs these packages itself when it runs as root.`,
  ].join('\n');
}

let problem: string | undefined | null = null;
/** Every test starts here: without the reference the test fails with the install hint. */
function needPartd(): void {
  if (problem === null) problem = partdProblem();
  if (problem) throw new Error(problem);
}

const python = pythonFixture(SCRIPT, { what: 'partd and msgpack', install: INSTALL });

// ---------------------------------------------------------------- views (see partd_compat.py)

type View = unknown;
const BIG = 1 << 16;

function bytesView(bytes: Uint8Array): View {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.byteLength >= BIG) return { $sha256: createHash('sha256').update(b).digest('hex'), length: b.byteLength };
  return { $bytes: b.toString('hex') };
}

function viewLength(view: View): number {
  const v = view as { $bytes?: string; length?: number };
  return v.$bytes !== undefined ? v.$bytes.length / 2 : v.length!;
}

/** A decoded JS value in the form partd_compat.py's js_view predicts. */
function jsView(x: unknown): View {
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') {
    if (Number.isNaN(x)) return { $float: 'nan' };
    if (x === Infinity) return { $float: 'inf' };
    if (x === -Infinity) return { $float: '-inf' };
    return x;
  }
  if (typeof x === 'bigint') return { $bigint: String(x) };
  if (x instanceof Uint8Array) return bytesView(x);
  if (Array.isArray(x)) return x.map(jsView);
  if (x instanceof Map) return { $map: [...x].map(([k, v]) => [jsView(k), jsView(v)]) };
  if (typeof x === 'object') return { $map: Object.entries(x).map(([k, v]) => [k, jsView(v)]) };
  return { $unexpected: typeof x };
}

function float64Hex(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.toString('hex');
}

/**
 * What Python should hold after reading a JS value, with ints and floats kept
 * apart (partd_compat.py's py_view). msgpackr writes a number as a MessagePack
 * integer only when it is a whole number within 32 bits; any other number is a
 * float64, so Python sees 2 ** 40 as 1099511627776.0. A bigint is an integer.
 */
function pyExpected(x: unknown): View {
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') {
    const int32 = Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 32 && !Object.is(x, -0);
    return int32 ? { $int: String(x) } : { $float: float64Hex(x) };
  }
  if (typeof x === 'bigint') return { $int: String(x) };
  if (x instanceof Uint8Array) return bytesView(x);
  if (Array.isArray(x)) return x.map(pyExpected);
  if (x instanceof Map) return { $map: [...x].map(([k, v]) => [pyExpected(k), pyExpected(v)]) };
  if (typeof x === 'object') return { $map: Object.entries(x).map(([k, v]) => [k, pyExpected(v)]) };
  return { $unexpected: typeof x };
}

// ---------------------------------------------------------------- directories

const tempDir = tempDirs('laminate-partd-', afterAll);

interface Written {
  file: Record<string, View[]>;
  zlib: Record<string, View[]>;
  python: Record<string, View[][]>;
  partd: string;
}

/** Has Python partd write its three directories (partd.File, partd.ZLib, partd.Python); `mode` write-tuples uses tuple keys. */
function pythonWrites<T = Written>(mode: 'write' | 'write-tuples' = 'write'): { dirs: { file: string; zlib: string; python: string }; written: T } {
  const root = tempDir();
  const d = { file: join(root, 'file'), zlib: join(root, 'zlib'), python: join(root, 'python') };
  return { dirs: d, written: python<T>(mode, d.file, d.zlib, d.python) };
}

/** `make`'s result, made on the first call only: several tests read one set of directories Python wrote. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

const writtenByPython = once(() => pythonWrites());

interface Read {
  values: Record<string, View>;
  frames?: Record<string, View[]>;
  files: string[];
}

/** Has Python partd read `keys` from `dir` through `layer`; `mode` read-tuples takes tuple keys (as lists). */
function pythonReads<T = Read>(layer: 'file' | 'zlib' | 'python', dir: string, keys: readonly Key[], mode: 'read' | 'read-tuples' = 'read'): T {
  const keysFile = join(tempDir(), 'keys.json');
  writeFileSync(keysFile, JSON.stringify(keys));
  return python<T>(mode, layer, dir, keysFile);
}

async function chunksOf(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

const sorted = (keys: unknown[]) => (keys as string[]).slice().sort();

// ---------------------------------------------------------------- data laminate writes

/** Per key, the byte strings appended one call at a time. */
function jsChunks(): Record<string, Buffer[]> {
  const data: Record<string, Buffer[]> = {};
  const names = [...Array.from({ length: 40 }, (_, i) => `key${i}`), 'a.b', 'with-dash_and_under', 'UPPER', '0123', 'k'.repeat(200)];
  names.forEach((name, i) => {
    const chunks = Array.from({ length: 1 + (i % 5) }, (_, j) => randomBytes([0, 1, 7, 100, 1000, 3000][(i + j) % 6]));
    if (i % 5 === 0) chunks.push(Buffer.from(Array.from({ length: 256 }, (_, b) => b)));
    data[name] = chunks;
  });
  data['all-bytes'] = [Buffer.from(Array.from({ length: 1024 }, (_, b) => b & 0xff)), Buffer.from(Array.from({ length: 256 }, (_, b) => 255 - b))];
  data.zeros = [Buffer.alloc(5000), Buffer.alloc(0), Buffer.alloc(1)];
  data.large = [randomBytes(4_700_000), Buffer.from('tail')];
  return data;
}

/** Per key, the lists appended one call at a time. */
function jsLists(): Record<string, unknown[][]> {
  const all = Uint8Array.from({ length: 256 }, (_, b) => b);
  const backing = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
  const lists: Record<string, unknown[][]> = {
    'none-and-bools': [[null, undefined, true, false], [null], []],
    'small-ints': [[0, 1, -1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, -32, -33, -128, -129, -32768, -32769]],
    // Whole numbers beyond 32 bits are float64 to msgpackr; bigints are the way to write 64-bit integers.
    'other-numbers': [[2 ** 32, 2 ** 40, 2 ** 53, -(2 ** 31) - 1, 1.5, -2.25, 0.1, Math.PI, 1e300, -1e-300, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity]],
    bigints: [[-5n, 123n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n, -(2n ** 63n)]],
    strings: [['', 'ascii', 'héllo wörld', '日本語のテキスト'], ['emoji 😀🎉 and more', 'nul\u0000inside', 'line\nbreak\ttab', 'y'.repeat(300), 'z'.repeat(70000)]],
    bytes: [[new Uint8Array(0), all, Buffer.from('ff00fe', 'hex'), randomBytes(5000)], [new Uint8Array(backing.buffer, 100, 50), Buffer.from(all).subarray(10, 20)]],
    nested: [
      [[1, [2, [3, []]]], [Buffer.from('in'), Buffer.from('a'), Buffer.from('list')], [[Buffer.from([0])], ['s', 1.25, null]]],
      [{ a: 1, b: [Buffer.from([1, 2]), 'x'], nested: { deep: null, list: [1, 2.5, 'three'] } }],
      [{}, [], { bytes: Buffer.from([0xff, 0]), 'ünïcode kéy': 'välue' }, new Map<string, unknown>([['k', 'v'], ['ü', [1, 2]]])],
    ],
    'many-ints': [Array.from({ length: 20000 }, (_, i) => i), Array.from({ length: 10 }, (_, i) => i - 5)],
  };
  for (let k = 0; k < 20; k++) {
    lists[`records-${k}`] = Array.from({ length: 1 + (k % 4) }, (_, a) =>
      Array.from({ length: (k * 7 + a * 5) % 31 }, (_, r) => ({
        id: k * 1000 + a * 100 + r,
        name: `rec-${k}-${r}`,
        score: (k * 31 + r) / 7,
        tags: Array.from({ length: r % 4 }, (_, t) => `t${t}`),
        blob: randomBytes(r * 3),
        ok: r % 2 === 0,
        missing: null,
      })),
    );
  }
  return lists;
}

/** Appends `data` with the store `make` opens on a new directory, closes it, and has Python partd read the directory as `layer` (every key listed). */
async function readByPartd<V>(layer: 'file' | 'zlib' | 'python', make: (dir: string) => { append(data: Iterable<readonly [string, V]>): Promise<void>; close(): Promise<void> }, data: Record<string, V[]>): Promise<{ keys: string[]; read: Read }> {
  needPartd();
  const dir = tempDir();
  const store = make(dir);
  await appendRounds(store, data);
  await store.close();
  const keys = Object.keys(data);
  const read = pythonReads(layer, dir, keys);
  expect(read.files).toEqual(sorted(keys));
  return { keys, read };
}

/** Appends `data` the way a shuffle does: several keys per call, each key's values in order. */
async function appendRounds<V>(store: { append(data: Iterable<readonly [Key, V]>): Promise<void> }, data: Record<string, V[]>): Promise<void> {
  await appendPairs(store, Object.entries(data));
}

/** Appends the first value of every key in one call, then the second of each, and so on. */
async function appendPairs<V>(store: { append(data: Iterable<readonly [Key, V]>): Promise<void> }, data: readonly (readonly [Key, V[]])[]): Promise<void> {
  const rounds = Math.max(...data.map(([, values]) => values.length));
  for (let r = 0; r < rounds; r++) await store.append(data.flatMap(([key, values]) => (r < values.length ? [[key, values[r]] as const] : [])));
}

// ---------------------------------------------------------------- tests

describe('Python partd compatibility', () => {
  it('runs against the real Python partd, whose Python layer uses msgpack, not pickle', () => {
    needPartd();
    const report = python<Check>('check');
    expect(report.partd).toMatch(/^\d+\.\d+/);
    expect(report.pythonLayerUsesMsgpack).toBe(true);
    expect(report.problems).toEqual([]);
  });

  it('fails loudly, saying what to install, when Python partd is missing', () => {
    const noPython = partdProblem('/nonexistent/python3');
    expect(noPython).toContain(INSTALL);
    expect(noPython).toContain('/nonexistent/python3');
    // A Python without its site packages: partd and msgpack cannot be imported.
    const noPackages = partdProblem(PYTHON, ['-S']);
    expect(noPackages).toContain(INSTALL);
  });

  describe('laminate reads what Python partd wrote', () => {
    it('file(dir) reads partd.File', async () => {
      needPartd();
      const { dirs: d, written } = writtenByPython();
      const store = file(d.file);
      try {
        expect(sorted(await store.keys())).toEqual(sorted(Object.keys(written.file)));
        const keys = Object.keys(written.file);
        const values = await store.getMany(keys);
        keys.forEach((key, i) => {
          // file() keeps no boundaries: cut the value where partd's appends ended and compare each piece.
          const chunks = written.file[key];
          expect(values[i].byteLength, key).toBe(chunks.reduce((n: number, c) => n + viewLength(c), 0));
          let offset = 0;
          for (const chunk of chunks) {
            const n = viewLength(chunk);
            expect(bytesView(values[i].subarray(offset, offset + n)), key).toEqual(chunk);
            offset += n;
          }
        });
        const large = Buffer.concat((await chunksOf(store.iter('large'))) as Uint8Array[]);
        expect(large.equals(Buffer.from(values[keys.indexOf('large')]))).toBe(true);
        expect((await store.get('never-written')).byteLength).toBe(0);
      } finally {
        await store.close();
      }
    });

    it('zlib(file(dir)) reads partd.ZLib(partd.File), one frame per partd append', async () => {
      needPartd();
      const { dirs: d, written } = writtenByPython();
      const store = zlib(file(d.zlib));
      try {
        expect(sorted(await store.keys())).toEqual(sorted(Object.keys(written.zlib)));
        for (const [key, chunks] of Object.entries(written.zlib)) {
          const value = await store.get(key);
          expect(value.byteLength, key).toBe(chunks.reduce((n: number, c) => n + viewLength(c), 0));
          // iter gives each appended value back whole, including the empty ones and the 4.7 MB one.
          const pieces = (await chunksOf(store.iter(key))) as Uint8Array[];
          expect(pieces.map(bytesView), key).toEqual(chunks);
          expect(Buffer.concat(pieces).equals(Buffer.from(value)), key).toBe(true);
        }
      } finally {
        await store.close();
      }
    });

    it('msgpack(file(dir)) reads partd.Python(partd.File): every type, in append order', async () => {
      needPartd();
      const { dirs: d, written } = writtenByPython();
      const store = msgpack(file(d.python));
      const raw = file(d.python);
      try {
        expect(sorted(await store.keys())).toEqual(sorted(Object.keys(written.python)));
        for (const [key, appends] of Object.entries(written.python)) {
          expect(jsView(await store.get(key)), key).toEqual(appends.flat());
          expect((await chunksOf(store.iter(key))).map(jsView), key).toEqual(appends);
          // Each frame is a MessagePack array (fixarray, array 16 or array 32), never a pickle.
          for (const payload of splitFrames(await raw.get(key), key, true).payloads) {
            expect(payload[0] >= 0x90 && payload[0] <= 0x9f || payload[0] === 0xdc || payload[0] === 0xdd, key).toBe(true);
          }
        }
      } finally {
        await store.close();
        await raw.close();
      }
    });
  });

  describe('Python partd reads what laminate wrote', () => {
    it('partd.File reads file(dir), under the same file names', async () => {
      const data = jsChunks();
      const { keys, read } = await readByPartd('file', (dir) => file(dir), data);
      for (const key of keys) expect(read.values[key], key).toEqual(bytesView(Buffer.concat(data[key])));
    });

    it('partd.ZLib(partd.File) reads zlib(file(dir)), one frame per laminate append', async () => {
      const data = jsChunks();
      const { keys, read } = await readByPartd('zlib', (dir) => zlib(file(dir)), data);
      for (const key of keys) {
        expect(read.values[key], key).toEqual(bytesView(Buffer.concat(data[key])));
        expect(read.frames![key], key).toEqual(data[key].map(bytesView));
      }
    });

    it('partd.Python(partd.File) reads msgpack(file(dir)): every type, in append order', async () => {
      const data = jsLists();
      const { keys, read } = await readByPartd('python', (dir) => msgpack(file(dir)), data);
      for (const key of keys) {
        expect(read.values[key], key).toEqual(pyExpected(data[key].flat()));
        expect(read.frames![key], key).toEqual(data[key].map(pyExpected));
      }
    });
  });

  it('both libraries append to the same directories in turn, and both read the whole in order', async () => {
    needPartd();
    const { dirs: d, written } = pythonWrites();
    // laminate appends after what partd wrote…
    const extraBytes: Record<string, Buffer[]> = {};
    for (const key of Object.keys(written.zlib)) extraBytes[key] = [randomBytes(100), Buffer.alloc(0)];
    extraBytes['new-from-laminate'] = [randomBytes(10)];
    const compressed = zlib(file(d.zlib));
    await appendRounds(compressed, extraBytes);
    await compressed.close();

    const extraLists: Record<string, unknown[][]> = {};
    for (const key of Object.keys(written.python)) extraLists[key] = [[key, 2n ** 64n - 1n, 1.5, Buffer.from([0, 255])]];
    extraLists['new-from-laminate'] = [[{ from: 'laminate' }]];
    const records = msgpack(file(d.python));
    await appendRounds(records, extraLists);
    await records.close();

    // …then partd reads partd's values followed by laminate's,
    const zKeys = Object.keys(extraBytes);
    const zRead = pythonReads('zlib', d.zlib, zKeys);
    for (const key of zKeys) expect(zRead.frames![key], key).toEqual([...(written.zlib[key] ?? []), ...extraBytes[key].map(bytesView)]);
    const pKeys = Object.keys(extraLists);
    const pRead = pythonReads('python', d.python, pKeys);
    for (const key of pKeys) {
      expect(pRead.frames![key].length, key).toBe((written.python[key]?.length ?? 0) + 1);
      expect(pRead.frames![key].at(-1), key).toEqual(pyExpected(extraLists[key][0]));
    }

    // …and so does laminate, reopened.
    const again = msgpack(file(d.python));
    try {
      for (const key of pKeys) {
        const values = await again.get(key);
        expect(values.map(jsView).slice(0, -(extraLists[key][0].length)), key).toEqual((written.python[key] ?? []).flat());
        expect(values.slice(-extraLists[key][0].length).map(jsView), key).toEqual(extraLists[key][0].map(jsView));
      }
    } finally {
      await again.close();
    }
  });
});

// ---------------------------------------------------------------- tuple keys: file(dir, { layout: 'partd' })

/** A key as partd_compat.py reports it: a string, or a tuple as a list of strings. */
type PyKey = string | string[];
type Pairs<T> = [PyKey, T][];

interface TuplesWritten {
  file: Pairs<View[]>;
  zlib: Pairs<View[]>;
  python: Pairs<View[][]>;
  /** The data files in partd.File's directory, as partd itself laid them out. */
  files: string[];
}

interface TuplesRead {
  values: View[];
  frames?: View[][];
  files: string[];
}

const PARTD = { layout: 'partd' } as const;
const keyOrder = (keys: readonly Key[]) => keys.map((k) => JSON.stringify(k)).sort();
/** Where partd keeps a key: its parts as nested folders. */
const partdPath = (key: Key) => (typeof key === 'string' ? key : key.map(String).join('/'));

const tuplesByPython = once(() => pythonWrites<TuplesWritten>('write-tuples'));
const pythonReadsTuples = (layer: 'file' | 'zlib' | 'python', dir: string, keys: readonly Key[]) => pythonReads<TuplesRead>(layer, dir, keys, 'read-tuples');

/** `value` is the chunks partd appended, one after the other (file() keeps no boundaries). */
function expectChunks(value: Uint8Array, chunks: View[], label: string): void {
  expect(value.byteLength, label).toBe(chunks.reduce((n: number, c) => n + viewLength(c), 0));
  let offset = 0;
  for (const chunk of chunks) {
    const n = viewLength(chunk);
    expect(bytesView(value.subarray(offset, offset + n)), label).toEqual(chunk);
    offset += n;
  }
}

/** Per key (tuples with numbers, dotted and spaced parts, a 255-byte part, and plain keys), the byte strings laminate appends. */
function jsTupleChunks(): [Key, Buffer[]][] {
  return [
    [['a', 'b'], [randomBytes(10), Buffer.alloc(0), randomBytes(3000)]],
    [['a', 'c', 'd'], [randomBytes(1)]],
    [['x', 1], [randomBytes(7), randomBytes(7)]],
    [['x', 2.5], [randomBytes(100)]],
    [['df', '.columns'], [Buffer.from('a list of columns')]],
    [['with space', '(parens)'], [randomBytes(5)]],
    [['k'.repeat(255), 'v'], [randomBytes(5)]],
    [['deep', 'er', 'est', 'key'], [randomBytes(64), Buffer.from(Array.from({ length: 256 }, (_, b) => b))]],
    ['plain', [randomBytes(20)]],
    ['a.b', [randomBytes(20), randomBytes(1)]],
  ];
}

describe('Python partd compatibility with tuple keys: file(dir, { layout: "partd" })', () => {
  describe('laminate reads what Python partd wrote', () => {
    it('file(dir, { layout: "partd" }) lists and reads partd.File\'s nested folders byte for byte; the default layout does not see them', async () => {
      needPartd();
      const { dirs: d, written } = tuplesByPython();
      // partd really nested them: ('a', 'b') is the file a/b.
      expect(written.files).toEqual(written.file.map(([key]) => partdPath(key)).sort());
      const store = file(d.file, PARTD);
      try {
        expect(keyOrder(await store.keys())).toEqual(keyOrder(written.file.map(([key]) => key)));
        const values = await store.getMany(written.file.map(([key]) => key));
        written.file.forEach(([key, chunks], i) => expectChunks(values[i], chunks, JSON.stringify(key)));
        const [key, chunks] = written.file.find(([k]) => Array.isArray(k) && k.length === 4)!;
        expectChunks(Buffer.concat((await chunksOf(store.iter(key))) as Uint8Array[]), chunks, 'iter');
        const [range] = await store.readRanges([{ key, offset: 1, length: 5 }]);
        expect(Buffer.from(range).equals(Buffer.from(values[written.file.findIndex(([k]) => k === key)].subarray(1, 6)))).toBe(true);
        // A tuple's folder holds no value of its own key.
        expect((await store.get('a')).byteLength).toBe(0);
        expect((await store.get(['a', 'b', 'never'])).byteLength).toBe(0);
      } finally {
        await store.close();
      }
      const escaped = file(d.file);
      try {
        expect(keyOrder(await escaped.keys())).toEqual(keyOrder(['plain', 'a.b']));
      } finally {
        await escaped.close();
      }
    });

    it('zlib(file(dir, { layout: "partd" })) reads partd.ZLib, and msgpack(…) partd.Python, with tuple keys, one frame per partd append', async () => {
      needPartd();
      const { dirs: d, written } = tuplesByPython();
      const compressed = zlib(file(d.zlib, PARTD));
      const records = msgpack(file(d.python, PARTD));
      try {
        expect(keyOrder(await compressed.keys())).toEqual(keyOrder(written.zlib.map(([key]) => key)));
        for (const [key, chunks] of written.zlib) {
          expect(((await chunksOf(compressed.iter(key))) as Uint8Array[]).map(bytesView), JSON.stringify(key)).toEqual(chunks);
        }
        expect(keyOrder(await records.keys())).toEqual(keyOrder(written.python.map(([key]) => key)));
        for (const [key, appends] of written.python) {
          expect((await chunksOf(records.iter(key))).map(jsView), JSON.stringify(key)).toEqual(appends);
        }
      } finally {
        await compressed.close();
        await records.close();
      }
    });

    it('reads partd.PandasColumns, whose keys are (key, column) tuples, and writes a copy that PandasColumns reads back', async () => {
      needPartd();
      const source = tempDir();
      const written = python<{ keys: Pairs<View>; frame: View }>('write-pandas', source);
      // ('df', '.columns'), ('df', 'ints'), ('df', 'ints.dtype'), ('df', 'with space') …
      expect(written.keys.map(([key]) => key)).toContainEqual(['df', '.columns']);
      expect(written.keys.map(([key]) => key)).toContainEqual(['df', 'with space']);
      const store = file(source, PARTD);
      const copy = file(join(tempDir(), 'copy'), PARTD);
      try {
        const keys = await store.keys();
        expect(keyOrder(keys)).toEqual(keyOrder(written.keys.map(([key]) => key)));
        const values = await store.getMany(keys);
        for (const [key, bytes] of written.keys) expect(bytesView(values[keys.findIndex((k) => JSON.stringify(k) === JSON.stringify(key))]), JSON.stringify(key)).toEqual(bytes);
        await copy.append(keys.map((key, i) => [key, values[i]] as const));
      } finally {
        await store.close();
        await copy.close();
      }
      expect(python<View>('read-pandas', copy.path)).toEqual(written.frame);
    });

    it('refuses, with ERR_INVALID_KEY and what to do, a plain key where partd keeps the folder of tuple keys, and the reverse', async () => {
      needPartd();
      const { dirs: d } = tuplesByPython();
      const store = file(d.file, PARTD);
      try {
        const before = await store.getMany([['a', 'b'], 'plain']);
        const folder = await rejection(store.append([['fresh', Buffer.from('x')], ['a', Buffer.from('would be a/')]]));
        expect(isLaminateError(folder, 'ERR_INVALID_KEY')).toBe(true);
        expect(folder.key).toBe('"a"');
        expect(folder.message).toMatch(/folder of tuple keys that start with "a".*Delete those tuple keys first/);
        const underFile = await rejection(store.append([[['plain', 'x'], Buffer.from('would need plain/')]]));
        expect(isLaminateError(underFile, 'ERR_INVALID_KEY')).toBe(true);
        expect(underFile.message).toMatch(/"plain" there is not a folder but the file of the key "plain".*layout: 'partd'/);
        // Nothing of either call was written, and what partd wrote is whole.
        expect((await store.get('fresh')).byteLength).toBe(0);
        expect(await store.getMany([['a', 'b'], 'plain'])).toEqual(before);
      } finally {
        await store.close();
      }
      expect(pythonReadsTuples('file', d.file, [['a', 'b']]).files).not.toContain('fresh');
    });
  });

  describe('Python partd reads what laminate wrote', () => {
    it('partd.File reads file(dir, { layout: "partd" })\'s tuple keys, numbers as their text, in partd\'s nested folders', async () => {
      needPartd();
      const data = jsTupleChunks();
      const dir = tempDir();
      const store = file(dir, PARTD);
      await appendPairs(store, data);
      await store.close();
      const read = pythonReadsTuples('file', dir, data.map(([key]) => key));
      expect(read.files).toEqual(data.map(([key]) => partdPath(key)).sort());
      data.forEach(([key, chunks], i) => expect(read.values[i], JSON.stringify(key)).toEqual(bytesView(Buffer.concat(chunks))));
    });

    it('partd.ZLib and partd.Python read zlib(…) and msgpack(…) over file(dir, { layout: "partd" }), frame by frame', async () => {
      needPartd();
      const chunks = jsTupleChunks();
      const zdir = tempDir();
      const compressed = zlib(file(zdir, PARTD));
      await appendPairs(compressed, chunks);
      await compressed.close();
      const zread = pythonReadsTuples('zlib', zdir, chunks.map(([key]) => key));
      chunks.forEach(([key, values], i) => expect(zread.frames![i], JSON.stringify(key)).toEqual(values.map(bytesView)));

      const lists: [Key, unknown[][]][] = chunks.map(([key], i) => [key, [[i, 'first', Buffer.from([i])], [{ key: partdPath(key) }, 2n ** 64n - 1n, -1.5]]]);
      const pdir = tempDir();
      const records = msgpack(file(pdir, PARTD));
      await appendPairs(records, lists);
      await records.close();
      const pread = pythonReadsTuples('python', pdir, lists.map(([key]) => key));
      lists.forEach(([key, appends], i) => {
        expect(pread.values[i], JSON.stringify(key)).toEqual(pyExpected(appends.flat()));
        expect(pread.frames![i], JSON.stringify(key)).toEqual(appends.map(pyExpected));
      });
    });

    it('both libraries append to the same tuple keys in turn', async () => {
      needPartd();
      const { dirs: d, written } = pythonWrites<TuplesWritten>('write-tuples');
      const extra: [Key, Buffer[]][] = [...written.zlib.map(([key]) => [key, [randomBytes(50)]] as [Key, Buffer[]]), [['a', 'new'], [randomBytes(9)]]];
      const compressed = zlib(file(d.zlib, PARTD));
      await appendPairs(compressed, extra);
      await compressed.close();
      const read = pythonReadsTuples('zlib', d.zlib, extra.map(([key]) => key));
      extra.forEach(([key, values], i) => {
        const before = written.zlib.find(([k]) => JSON.stringify(k) === JSON.stringify(key))?.[1] ?? [];
        expect(read.frames![i], JSON.stringify(key)).toEqual([...before, ...values.map(bytesView)]);
      });
    });
  });
});
