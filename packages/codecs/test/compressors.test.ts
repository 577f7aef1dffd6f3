/**
 * snappy(), bz2() and blosc() (the conformance suite runs them in
 * conformance.test.ts): compatibility with the real Python partd both ways
 * (partd.Snappy, partd.BZ2, partd.Blosc over partd.File, and python-blosc with
 * its other codecs); damaged frames; specs; options.
 *
 * The Python side is fixtures/partd_compressors.py, run with Debian's Python.
 * On a machine without it these tests fail, saying what to install; they never skip.
 */
import { spawnSync } from 'node:child_process';
import { pythonFixture } from '../../core/test/fixtures/python.js';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dict, file, formatSpec, isLaminateError, open } from '@laminate/core';
import { rejection, seededRandom, tempDirs, thrown } from '@laminate/core/testing';
import { blosc, bz2 } from '@laminate/codecs';

import { LAYERS, type Layer } from './compressor-layers.js';

// ---------------------------------------------------------------- data

function randomWalk(n: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const out = new Float64Array(n);
  let x = 100;
  for (let i = 0; i < n; i++) out[i] = x += Math.round((rnd() - 0.5) * 1000) / 100;
  return Buffer.from(out.buffer);
}

function sortedIds(n: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const out = new Int32Array(n);
  let id = 1000;
  for (let i = 0; i < n; i++) out[i] = id += rnd() < 0.9 ? Math.floor(rnd() * 4) : -Math.floor(rnd() * 50);
  return Buffer.from(out.buffer);
}

function text(bytes: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const words = 'the of and a to in is was that for on are with as his they be at one have this from or had by word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them would write like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find'.split(' ');
  let s = '';
  while (s.length < bytes) s += words[Math.floor(rnd() ** 2 * words.length)] + (rnd() < 0.08 ? '. ' : ' ');
  return Buffer.from(s.slice(0, bytes));
}

/** What each key is sent, one entry per append call; the first value of `a` is large enough for several Blosc blocks. */
function plan(): Record<string, Buffer>[] {
  return [
    { a: randomWalk(100_003, 1), ids: sortedIds(50_000, 2), words: text(200_000, 3), tiny: Buffer.from('hi'), empty: Buffer.alloc(0) },
    { a: randomWalk(7, 4), words: text(1_001, 5), tiny: Buffer.from([0, 1, 2, 255]) },
    { a: Buffer.alloc(300_000, 0x2a), ids: sortedIds(33, 6) },
  ];
}

function expected(calls: Record<string, Buffer>[]): Record<string, Buffer> {
  const out: Record<string, Buffer[]> = {};
  for (const call of calls) for (const [key, value] of Object.entries(call)) (out[key] ??= []).push(value);
  return Object.fromEntries(Object.entries(out).map(([key, parts]) => [key, Buffer.concat(parts)]));
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

// ---------------------------------------------------------------- the Python side

const SCRIPT = fileURLToPath(new URL('./fixtures/partd_compressors.py', import.meta.url));
const python = pythonFixture(SCRIPT, { what: 'partd, python-snappy and python-blosc', install: 'apt-get install -y python3-partd python3-snappy python3-blosc' });
const tempDir = tempDirs('laminate-compressors-');

/** Python partd appends the plan's calls through `layer` into `dir`. */
function pythonWrites(layer: string, dir: string, calls: Record<string, Buffer>[]): void {
  const work = tempDir();
  const planFile = join(work, 'plan.json');
  const described = calls.map((call, i) =>
    Object.fromEntries(
      Object.entries(call).map(([key, value]) => {
        const path = join(work, `${i}-${key}`);
        writeFileSync(path, value);
        return [key, path];
      }),
    ),
  );
  writeFileSync(planFile, JSON.stringify(described));
  python('write', layer, dir, planFile);
}

function pythonReads(layer: string, dir: string, keys: string[]): Record<string, { sha256: string; length: number }> {
  const keysFile = join(tempDir(), 'keys.json');
  writeFileSync(keysFile, JSON.stringify(keys));
  return python('read', layer, dir, keysFile);
}

describe('Python partd compatibility', () => {
  it('has the reference: partd with Snappy, BZ2 and Blosc, python-blosc with every codec', () => {
    const report = python<{ partd: string; compressors: string[] }>('check');
    expect(report.partd).toMatch(/^\d/);
    expect(report.compressors).toEqual(expect.arrayContaining(['blosclz', 'lz4', 'lz4hc', 'snappy', 'zlib', 'zstd']));
  });

  const ours: Record<string, Layer> = { snappy: LAYERS.snappy, bz2: LAYERS.bz2, blosc: LAYERS.blosc };

  for (const name of ['snappy', 'bz2', 'blosc']) {
    it(`reads what partd.${name === 'bz2' ? 'BZ2' : name[0].toUpperCase() + name.slice(1)}(partd.File) wrote, value and frames`, async () => {
      const dir = tempDir();
      const calls = plan();
      pythonWrites(name, dir, calls);
      const want = expected(calls);
      const store = ours[name](file(dir));
      try {
        // partd writes a frame even for an empty value, so every key is listed.
        expect((await store.keys()).sort()).toEqual(Object.keys(want).sort());
        for (const [key, value] of Object.entries(want)) {
          const got = await store.get(key);
          expect(got.byteLength, key).toBe(value.byteLength);
          expect(sha(got), key).toBe(sha(value));
        }
        const frames: Uint8Array[] = [];
        for await (const frame of store.iter('a')) frames.push(frame);
        expect(frames.map(sha)).toEqual(calls.map((call) => sha(call.a)));
      } finally {
        await store.close();
      }
    });

    it(`writes what partd.${name === 'bz2' ? 'BZ2' : name[0].toUpperCase() + name.slice(1)}(partd.File) reads`, async () => {
      const dir = tempDir();
      const calls = plan();
      const store = ours[name](file(dir));
      for (const call of calls) await store.append(call);
      await store.close();
      const want = expected(calls);
      const got = pythonReads(name, dir, Object.keys(want));
      for (const [key, value] of Object.entries(want)) expect(got[key], key).toEqual({ sha256: sha(value), length: value.byteLength });
    });
  }

  // python-blosc's other codecs and settings, written by partd.Encode over blosc.compress.
  for (const variant of ['lz4:1:8', 'lz4hc:1:8', 'zstd:1:8', 'zlib:1:4', 'snappy:1:2', 'blosclz:0:8', 'blosclz:1:1', 'blosclz:1:16']) {
    it(`reads python-blosc buffers written with cname:shuffle:typesize ${variant}`, async () => {
      const dir = tempDir();
      const calls = plan();
      pythonWrites(`blosc:${variant}`, dir, calls);
      const store = blosc(file(dir));
      try {
        for (const [key, value] of Object.entries(expected(calls))) expect(sha(await store.get(key)), key).toBe(sha(value));
      } finally {
        await store.close();
      }
    });
  }

  for (const [name, opts] of Object.entries({ zstd: { cname: 'zstd' }, zlib: { cname: 'zlib', typesize: 4 }, snappy: { cname: 'snappy', shuffle: 0 }, 'lz4 level 0': { level: 0 }, 'typesize 1': { typesize: 1 } } as const)) {
    it(`writes blosc ${name} buffers that python-blosc reads`, async () => {
      const dir = tempDir();
      const calls = plan();
      const store = blosc(file(dir), opts);
      for (const call of calls) await store.append(call);
      await store.close();
      const want = expected(calls);
      const got = pythonReads('blosc', dir, Object.keys(want));
      for (const [key, value] of Object.entries(want)) expect(got[key], key).toEqual({ sha256: sha(value), length: value.byteLength });
    });
  }

  it('reads a bz2 value that inflates past 10 MB (the WebAssembly build decodes into 10 MB)', async () => {
    const dir = tempDir();
    const big = Buffer.concat([randomWalk(1_000_000, 7), text(4_000_000, 8)]);
    pythonWrites('bz2', dir, [{ big }]);
    const store = bz2(file(dir));
    try {
      const got = await store.get('big');
      expect(got.byteLength).toBe(big.byteLength);
      expect(sha(got)).toBe(sha(big));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('says a bit-shuffled python-blosc buffer is not supported instead of returning garbage', async () => {
    const dir = tempDir();
    pythonWrites('blosc:lz4:2:8', dir, [{ a: randomWalk(10_000, 9) }]);
    const store = blosc(file(dir));
    try {
      const error = await rejection(store.get('a'));
      expect(isLaminateError(error, 'ERR_CORRUPT_FRAME')).toBe(true);
      expect(String(error.message)).toMatch(/bit shuffle/);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- damage, specs, options

describe('damaged frames', () => {
  for (const [name, layer] of Object.entries(LAYERS)) {
    it(`${name}: a damaged payload is ERR_CORRUPT_FRAME naming the key and offset, never garbage`, async () => {
      const dir = tempDir();
      const store = layer(file(dir));
      await store.append({ k: text(5_000, 10) });
      await store.append({ k: randomWalk(5_000, 11) });
      await store.close();
      // Damage the second frame's payload: the first frame stays readable by repair-minded callers.
      const [name0] = readdirSync(dir).filter((f) => f === 'k');
      const path = join(dir, name0);
      const bytes = readFileSync(path);
      const second = 8 + Number(bytes.readBigUInt64LE(0));
      for (let i = second + 8; i < Math.min(bytes.length, second + 8 + 64); i++) bytes[i] ^= 0x5a;
      writeFileSync(path, bytes);
      const reopened = layer(file(dir));
      try {
        const error = await rejection(reopened.get('k'));
        expect(isLaminateError(error, 'ERR_CORRUPT_FRAME')).toBe(true);
        expect(error).toMatchObject({ key: '"k"', offset: second });
      } finally {
        await reopened.close();
      }
    });
  }

  it('a payload that is not the codec at all is ERR_CORRUPT_FRAME for each layer', async () => {
    for (const [name, layer] of Object.entries(LAYERS)) {
      const inner = dict();
      const junk = Buffer.alloc(8 + 40, 0x41);
      junk.writeBigUInt64LE(40n, 0);
      await inner.append({ k: junk });
      const error = await rejection(layer(inner).get('k'));
      expect(isLaminateError(error, 'ERR_CORRUPT_FRAME'), name).toBe(true);
    }
  });
});

describe('specs and options', () => {
  it('open() rebuilds each layer from describe() and from the short form', async () => {
    const dir = tempDir();
    for (const short of [`snappy(file(${dir}/s))`, `bz2(file(${dir}/b), level=3)`, `blosc(file(${dir}/z), level=7, shuffle=0, typesize=4, cname=zstd)`]) {
      const store = open(short);
      expect(formatSpec(store.describe())).toBe(short);
      expect(open(store.describe()).describe()).toEqual(store.describe());
      const value = randomWalk(1_000, 12);
      await store.append({ x: value });
      await store.close();
      const again = open<Uint8Array>(short);
      expect(sha(await again.get('x'))).toBe(sha(value));
      await again.close();
    }
  });

  it('rejects bad options as TypeErrors with ERR_INVALID_OPTION', () => {
    const bad = [() => bz2(dict(), { level: 0 }), () => bz2(dict(), { level: 10 }), () => blosc(dict(), { level: 10 }), () => blosc(dict(), { shuffle: 2 }), () => blosc(dict(), { typesize: 0 }), () => blosc(dict(), { cname: 'blosclz' as never })];
    for (const make of bad) {
      const error = thrown(make);
      expect(error).toBeInstanceOf(TypeError);
      expect(isLaminateError(error, 'ERR_INVALID_OPTION')).toBe(true);
    }
  });

  it('blosc with shuffle compresses float64 columns better than without', async () => {
    // Continuous steps: the exponent and high mantissa bytes repeat, the low ones are noise.
    const rnd = seededRandom(13);
    const walk = new Float64Array(100_000);
    for (let i = 1; i < walk.length; i++) walk[i] = walk[i - 1] + rnd() - 0.5;
    const value = Buffer.from(walk.buffer);
    const sizes: number[] = [];
    for (const shuffle of [1, 0]) {
      const inner = dict();
      await blosc(inner, { cname: 'zstd', shuffle }).append({ v: value });
      sizes.push((await inner.get('v')).byteLength);
    }
    expect(sizes[0]).toBeLessThan(sizes[1] * 0.9);
  });
});

describe('the bzip2 build', () => {
  it('leaves no process-wide error handlers behind: an unhandled rejection is handled by Node as usual', () => {
    const script = fileURLToPath(new URL('./fixtures/unhandled.ts', import.meta.url));
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', script], { cwd: root, encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('listeners 0 0');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('left unhandled on purpose');
    expect(run.stderr).not.toContain('Emscripten');
  });
});
