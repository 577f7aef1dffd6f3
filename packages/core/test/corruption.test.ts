/**
 * Damaged bytes are an error, never data, and the error says which kind of
 * damage it is: a torn tail (a writer died mid-append: repair() cuts exactly
 * it) or damage elsewhere, a damaged header or another stack's bytes (no
 * repair advice; repair() refuses and cuts nothing).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as lz4napi from 'lz4-napi';
import { Compressor } from 'zstd-napi';
import { describe, expect, it } from 'vitest';
import { type BaseStore, type DictStore, type EncodeStore, brotli, checksum, dict, file, lz4, msgpack, zlib, zstd } from '@laminate/core';
import { frame, splitFrames } from '@laminate/core/layer';
import { rejection, seededRandom, tempDirs } from '@laminate/core/testing';
import { flipBit, replaceStored, stored } from './fixtures/damage.js';

const tempDir = tempDirs('laminate-corruption-');

/** Text that compresses, with enough variety that a flipped bit lands in real data. */
function text(bytes: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const words = ['alpha', 'beta', 'gamma', 'delta', 'user', 'amount', 'id', 'event'];
  let out = '';
  while (out.length < bytes) out += `${words[Math.floor(random() * words.length)]}=${Math.floor(random() * 1000)} `;
  return Buffer.from(out.slice(0, bytes));
}

function frameStarts(bytes: Uint8Array): number[] {
  const starts: number[] = [];
  for (let at = 0; at < bytes.byteLength; at += 8 + Number(Buffer.from(bytes).readBigUInt64LE(at))) starts.push(at);
  return starts;
}

/** The advice a torn tail's message gives, and a damaged key's must not. */
const REPAIR_ADVICE = /call repair\(/;

type BytesLayer = (inner: BaseStore<Uint8Array>) => EncodeStore<Uint8Array>;

/** Stacks whose format (or checksum()) carries a checksum: no flipped bit reads back as other bytes. */
const checked: Record<string, BytesLayer> = {
  lz4: (inner) => lz4(inner),
  zstd: (inner) => zstd(inner),
  checksum: (inner) => checksum(inner),
  'brotli(checksum)': (inner) => brotli(checksum(inner)),
  'zlib(checksum)': (inner) => zlib(checksum(inner)),
};

describe('one flipped bit anywhere in a key is ERR_CORRUPT_FRAME, never other bytes', () => {
  for (const [name, layer] of Object.entries(checked)) {
    it(`${name}: every bit of a two-value key, headers included`, async () => {
      const inner = dict();
      const store = layer(inner);
      const values = [text(1500, 1), text(700, 2)];
      for (const value of values) await store.append({ k: value });
      const whole = await stored(inner);
      const expected = Buffer.concat(values);
      let errors = 0;
      for (let bit = 0; bit < whole.byteLength * 8; bit++) {
        await replaceStored(inner, flipBit(whole, bit));
        let got: Uint8Array;
        try {
          got = await store.get('k');
        } catch (error) {
          const e = error as { code?: string; repairable?: boolean; message: string };
          expect(e.code, `bit ${bit}: ${e.message}`).toBe('ERR_CORRUPT_FRAME');
          // No flipped bit looks like a writer that died: repair() never applies.
          expect(e.repairable, `bit ${bit}: ${e.message}`).toBe(false);
          expect(e.message, `bit ${bit}`).not.toMatch(REPAIR_ADVICE);
          errors++;
          continue;
        }
        // A bit the format ignores (such as zstd's unused header bits) may read back: only ever as the same bytes.
        expect(Buffer.compare(got, expected), `bit ${bit} read back as other bytes`).toBe(0);
      }
      expect(errors).toBeGreaterThan(whole.byteLength * 8 * 0.95);
    });
  }

  it('msgpack(zstd): every bit of a two-value key', async () => {
    const inner = dict();
    const store = msgpack(zstd(inner));
    const values = [[{ id: 1, user: text(300, 3).toString() }], [{ id: 2, user: text(200, 4).toString() }, 'x']];
    for (const value of values) await store.append({ k: value });
    const whole = await stored(inner);
    for (let bit = 0; bit < whole.byteLength * 8; bit++) {
      await replaceStored(inner, flipBit(whole, bit));
      const result = await store.get('k').then(
        (value) => ({ value }),
        (error: { code: string; repairable: boolean }) => ({ error }),
      );
      if ('error' in result) {
        expect(result.error.code).toBe('ERR_CORRUPT_FRAME');
        expect(result.error.repairable).toBe(false);
      } else expect(result.value, `bit ${bit}`).toEqual(values.flat());
    }
  });

  it('brotli and msgpack carry no checksum: a flipped bit in the middle reads back as other data; over checksum() it is ERR_CORRUPT_FRAME', async () => {
    const value = text(4000, 5);
    const records = [{ id: 7, user: 'ada lovelace', note: text(200, 6).toString() }];
    const cases: [string, () => Promise<{ silent: boolean; checked: string }>][] = [
      [
        'brotli',
        async () => ({
          silent: await flipsSilently((inner) => brotli(inner), value, (got) => Buffer.compare(got, value) !== 0),
          checked: await middleFlipError((inner) => brotli(checksum(inner)), value),
        }),
      ],
      [
        'msgpack',
        async () => ({
          silent: await flipsSilently((inner) => msgpack(inner), records, (got) => JSON.stringify(got) !== JSON.stringify(records)),
          checked: await middleFlipError((inner) => msgpack(checksum(inner)), records),
        }),
      ],
    ];
    for (const [name, run] of cases) {
      const { silent, checked: code } = await run();
      expect(silent, `${name}: some flipped bit in the middle reads back as other data`).toBe(true);
      expect(code, `${name} over checksum()`).toBe('ERR_CORRUPT_FRAME');
    }
  });
});

/** Whether some bit in the middle half of the stored key, flipped, reads back without an error as something else. */
async function flipsSilently<V>(layer: (inner: DictStore) => BaseStore<V>, value: V, differs: (got: V) => boolean): Promise<boolean> {
  const inner = dict();
  const store = layer(inner);
  await store.append({ k: value });
  const whole = await stored(inner);
  for (let bit = whole.byteLength * 2; bit < whole.byteLength * 6; bit++) {
    await replaceStored(inner, flipBit(whole, bit));
    const got = await store.get('k').catch(() => undefined);
    if (got !== undefined && differs(got)) return true;
  }
  return false;
}

/** The code get() fails with after one bit in the middle of the stored key flips. */
async function middleFlipError<V>(layer: (inner: DictStore) => BaseStore<V>, value: V): Promise<string> {
  const inner = dict();
  const store = layer(inner);
  await store.append({ k: value });
  const whole = await stored(inner);
  await replaceStored(inner, flipBit(whole, whole.byteLength * 4 + 3));
  return (await rejection(store.get('k'))).code;
}

describe('lz4 and zstd: content checksums, and values written before them', () => {
  it('lz4 writes LZ4 frames with a content checksum, which the LZ4 frame reader reads', async () => {
    const inner = dict();
    const store = lz4(inner);
    const random = seededRandom(9);
    const noise = Buffer.from(Array.from({ length: 5 << 20 }, () => Math.floor(random() * 256)));
    const values = [text(1000, 7), Buffer.concat([text(9 << 20, 8)]), noise];
    for (const [i, value] of values.entries()) {
      await store.append({ [`v${i}`]: value });
      const payload = splitFrames(await inner.get(`v${i}`), `v${i}`, true).payloads[0];
      expect(Buffer.from(payload).readUInt32LE(0)).toBe(0x184d2204); // the frame's magic number
      expect(payload[4] & 0x04).toBe(0x04); // FLG: content checksum
      expect(Buffer.compare(lz4napi.decompressFrameSync(Buffer.from(payload)), value)).toBe(0);
      expect(Buffer.compare(await store.get(`v${i}`), value)).toBe(0);
    }
  });

  it('lz4 still reads the bare blocks it wrote before, beside new frames', async () => {
    const inner = dict();
    const old = text(3000, 10);
    await inner.append({ k: frame(lz4napi.compressSync(old)) });
    const store = lz4(inner);
    await store.append({ k: Buffer.from('new') });
    expect(Buffer.from(await store.get('k')).toString()).toBe(`${old}new`);
  });

  it('zstd writes its frames with the content checksum flag, and reads frames written without it', async () => {
    const inner = dict();
    const store = zstd(inner);
    await store.append({ k: text(2000, 11) });
    const payload = splitFrames(await inner.get('k'), 'k', true).payloads[0];
    expect(payload[4] & 0x04).toBe(0x04); // frame header descriptor: Content_Checksum_flag

    const unchecked = new Compressor();
    unchecked.setParameters({ compressionLevel: 3 });
    const old = text(2000, 12);
    const before = dict();
    await before.append({ k: frame(unchecked.compress(old)) });
    expect(Buffer.compare(await zstd(before).get('k'), old)).toBe(0);
  });
});

// ---------------------------------------------------------------- torn tails and damage

type RecordLayer = (inner: BaseStore<Uint8Array>) => EncodeStore<unknown[]>;
const framed: Record<string, RecordLayer> = {
  msgpack: (inner) => msgpack(inner),
  'msgpack(lz4)': (inner) => msgpack(lz4(inner)),
  'msgpack(zstd)': (inner) => msgpack(zstd(inner)),
  'msgpack(checksum)': (inner) => msgpack(checksum(inner)),
};
const appends = [[{ id: 1, user: 'ada' }], [{ id: 2, user: 'bob' }, 'two'], [{ id: 3, note: 'the last value of the key, long enough to be torn in many places' }]];

async function threeValues(layer: RecordLayer): Promise<{ inner: DictStore; store: EncodeStore<unknown[]>; whole: Buffer; starts: number[] }> {
  const inner = dict();
  const store = layer(inner);
  for (const value of appends) await store.append({ k: value });
  const whole = await stored(inner);
  return { inner, store, whole, starts: frameStarts(whole) };
}

describe('a torn tail: repair() cuts exactly it', () => {
  for (const [name, layer] of Object.entries(framed)) {
    it(`${name}: every cut inside the last frame is a torn tail, reported with repair advice and cut by repair()`, async () => {
      const { inner, store, whole, starts } = await threeValues(layer);
      const last = starts[2];
      for (let cut = 1; cut < whole.byteLength - last; cut++) {
        const torn = whole.subarray(0, whole.byteLength - cut);
        await replaceStored(inner, torn);
        const error = await rejection(store.get('k'));
        expect(error.code).toBe('ERR_CORRUPT_FRAME');
        expect(error.repairable, `cut ${cut}: ${error.message}`).toBe(true);
        expect(error.offset).toBe(last);
        expect(error.message).toMatch(/^Key "k" ends in a torn frame at byte \d+: .*call repair\("k"\)/);

        // iter() yields the whole values, then reports the torn one the same way.
        const seen: unknown[][] = [];
        const iterError = await rejection((async () => {
          for await (const value of store.iter('k')) seen.push(value);
        })());
        expect(seen).toEqual(appends.slice(0, 2));
        expect(iterError.repairable).toBe(true);

        expect(await store.repair('k')).toBe(torn.byteLength - last);
        expect(Buffer.compare(await stored(inner), whole.subarray(0, last))).toBe(0);
        expect(await store.get('k')).toEqual(appends.slice(0, 2).flat());
        expect(await store.repair('k')).toBe(0);
      }
    });
  }

  it('msgpack(file(dir)): a writer that died after half its frame; repair() cuts exactly those bytes', async () => {
    const dir = tempDir();
    const store = msgpack(file(dir));
    await store.append({ jobs: ['first'] });
    await store.append({ jobs: ['second'] });
    const path = join(dir, 'jobs');
    const before = readFileSync(path);
    const next = frame(Buffer.from([0x91, 0xa5, ...Buffer.from('third')]));
    writeFileSync(path, Buffer.concat([before, next.subarray(0, 10)]));
    const error = await rejection(store.get('jobs'));
    expect(error.repairable).toBe(true);
    expect(error.message).toContain('call repair("jobs")');
    expect(await store.repair('jobs')).toBe(10);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(await store.get('jobs')).toEqual(['first', 'second']);
    await store.close();
  });
});

describe('a damaged frame header: no repair advice, and repair() refuses and cuts nothing', () => {
  for (const [name, layer] of Object.entries(framed)) {
    it(`${name}: each of the 64 bits of each frame's length`, async () => {
      const { inner, store, whole, starts } = await threeValues(layer);
      for (const [i, start] of starts.entries()) {
        for (let bit = 0; bit < 64; bit++) {
          const damaged = flipBit(whole, start * 8 + bit);
          await replaceStored(inner, damaged);
          const error = await rejection(store.get('k'));
          const where = `frame ${i + 1}, bit ${bit}: ${error.message}`;
          expect(error.code, where).toBe('ERR_CORRUPT_FRAME');
          expect(error.repairable, where).toBe(false);
          expect(error.message, where).not.toMatch(REPAIR_ADVICE);
          expect(error.message, where).toContain('repair() does not apply');
          const iterError = await rejection((async () => {
            for await (const _ of store.iter('k'));
          })());
          expect(iterError.repairable, `iter, ${where}`).toBe(false);

          const refused = await rejection(store.repair('k'));
          expect(refused.code, where).toBe('ERR_CORRUPT_FRAME');
          expect(refused.message, where).toMatch(/^repair\("k"\) cut nothing: /);
          expect(Buffer.compare(await stored(inner), damaged), where).toBe(0);
        }
      }
    });
  }

  it('msgpack(file(dir)): a middle frame announcing fewer bytes is "frame 2 does not decode"; repair() keeps every byte', async () => {
    const dir = tempDir();
    const store = msgpack(file(dir));
    for (const value of appends) await store.append({ k: value });
    const path = join(dir, 'k');
    const whole = readFileSync(path);
    const second = frameStarts(whole)[1];
    const damaged = Buffer.from(whole);
    damaged[second] -= 4; // the length's low byte: the frame now ends 4 bytes early, inside its own payload
    writeFileSync(path, damaged);

    const error = await rejection(store.get('k'));
    expect(error.offset).toBe(second);
    expect(error.message).toMatch(/^Key "k" is damaged: frame 2 \(\d+ bytes at byte \d+\) does not decode as msgpack\(\) \(.*\), after 1 that do\. repair\(\) does not apply/);
    expect(error.message).not.toMatch(REPAIR_ADVICE);
    const seen: unknown[][] = [];
    const iterError = await rejection((async () => {
      for await (const value of store.iter('k')) seen.push(value);
    })());
    expect(seen).toEqual([appends[0]]);
    expect(iterError.offset).toBe(second);
    expect((await rejection(store.repair('k'))).message).toMatch(/^repair\("k"\) cut nothing/);
    expect(readFileSync(path).equals(damaged)).toBe(true);
    await store.close();
  });

  it('a torn tail after a damaged frame: repair() refuses, since cutting the tail would leave the key unreadable', async () => {
    const { inner, store, whole, starts } = await threeValues(framed.msgpack);
    const damaged = Buffer.from(whole.subarray(0, whole.byteLength - 3));
    damaged[starts[1] + 8] = 0xc1; // a byte MessagePack never uses, first in frame 2's payload
    await replaceStored(inner, damaged);
    expect((await rejection(store.get('k'))).message).toMatch(/frame 2 .* does not decode/);
    expect((await rejection(store.repair('k'))).message).toMatch(/^repair\("k"\) cut nothing/);
    expect(Buffer.compare(await stored(inner), damaged)).toBe(0);
  });
});

describe('another stack\'s bytes: no repair advice, and repair() cuts nothing', () => {
  it('msgpack(file(dir)) over raw bytes written by file(dir): text, numbers, a few bytes', async () => {
    const dir = tempDir();
    const bytes = file(dir);
    await bytes.append({
      text: Buffer.from('hello world, these are plain bytes appended by file(), not frames'),
      numbers: Buffer.from(new Float64Array([1.5, 2.5, 3.5, 4.5]).buffer),
      short: Buffer.from('abc'),
    });
    const store = msgpack(file(dir));
    const messages: Record<string, RegExp> = {
      text: /^Key "text" does not hold msgpack\(\) frames: the header at byte 0 announces \d+ bytes, more than the whole key holds \(65 bytes\) and more than any writer could have written\. It was written through another stack, or is damaged\. repair\(\) does not apply/,
      numbers: /^Key "numbers" does not hold msgpack\(\) frames: the header at byte 0 announces \d+ bytes, more than the whole key holds \(32 bytes\)/,
      short: /^Key "short" holds 3 bytes, too few for one frame header \(8 bytes\), and no whole frame: it was written through another stack, or its first append was cut short\. repair\(\) does not apply/,
    };
    for (const [key, message] of Object.entries(messages)) {
      const before = readFileSync(join(dir, key));
      const error = await rejection(store.get(key));
      expect(error.code).toBe('ERR_CORRUPT_FRAME');
      expect(error.repairable).toBe(false);
      expect(error.message).toMatch(message);
      expect(error.message).not.toMatch(REPAIR_ADVICE);
      expect((await rejection(store.repair(key))).message).toMatch(new RegExp(`^repair\\("${key}"\\) cut nothing`));
      expect(readFileSync(join(dir, key)).equals(before)).toBe(true);
    }
    await store.close();
    await bytes.close();
  });

  it('zlib(file(dir)) over msgpack frames: whole frames that do not decode', async () => {
    const dir = tempDir();
    const records = msgpack(file(dir));
    await records.append({ k: [1, 2, 3] });
    const store = zlib(file(dir));
    const error = await rejection(store.get('k'));
    expect(error.message).toMatch(/^Key "k" does not decode as zlib\(\): its first frame \(4 bytes at byte 0\) fails \(.*\)\. It was written through another stack, or is damaged\. repair\(\) does not apply/);
    expect((await rejection(store.repair('k'))).code).toBe('ERR_CORRUPT_FRAME');
    await store.close();
    await records.close();
  });

  it('msgpack(lz4) over lz4 frames of raw bytes: what lz4() decoded is not torn, so it is damage; repair() at lz4 finds nothing to cut', async () => {
    const inner = dict();
    await lz4(inner).append({ k: Buffer.from('raw bytes, not msgpack frames') });
    const store = msgpack(lz4(inner));
    const error = await rejection(store.get('k'));
    expect(error.repairable).toBe(false);
    expect(error.message).toMatch(/^Key "k" does not hold whole msgpack\(\) frames: the 29 bytes at byte 0 of what the layer below decoded are not a whole frame/);
    expect(await store.repair('k')).toBe(0);
  });
});

describe('repair() on stacks', () => {
  it('msgpack(checksum(dict)): a torn checksum frame at the bottom is cut through the stack', async () => {
    const inner = dict();
    const store = msgpack(checksum(inner));
    await store.append({ k: ['one'] });
    await store.append({ k: ['two'] });
    const whole = await stored(inner);
    await replaceStored(inner, whole.subarray(0, whole.byteLength - 5));
    const error = await rejection(store.get('k'));
    expect(error.repairable).toBe(true);
    expect(await store.repair('k')).toBe(whole.byteLength - 5 - frameStarts(whole)[1]);
    expect(await store.get('k')).toEqual(['one']);
  });

  it('splitFrames (for layers of your own) tells a torn tail from another stack\'s bytes too', async () => {
    const torn = Buffer.concat([frame(Buffer.from('whole')), frame(Buffer.from('torn')).subarray(0, 10)]);
    expect((() => { try { splitFrames(torn, 'k', true); } catch (error) { return error as { repairable: boolean }; } })()?.repairable).toBe(true);
    expect(splitFrames(torn, 'k', false).rest).toBe(13);
    const foreign = Buffer.from('plain text is not frames');
    expect((() => { try { splitFrames(foreign, 'k', true); } catch (error) { return error as { repairable: boolean }; } })()?.repairable).toBe(false);
  });
});
