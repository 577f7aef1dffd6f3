// Property-based tests (fast-check) of two maps whose silent bugs lose data: key → file name, and
// bytes → frames. Every run is seeded, so a failure prints a seed and a path that replay it
// (pass them back as { seed, path } to fc.assert), and bounded to a few seconds.
import { join, relative, sep } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DictStore, type Key, file, msgpack, zlib } from '@laminate/core';
import { type KeyId } from '@laminate/core/layer';
import { tempDirs } from '@laminate/core/testing';
import { MAX_NAME, decodePart, encodePart } from '../src/filenames.js';

const tempDir = tempDirs('laminate-props-');
const SEED = 20;

// ---------------------------------------------------------------- generated keys

/** Pieces that build names resembling what the map writes: its marks (%d, %e, %h), escapes, dots, separators, non-ASCII. */
const PIECES = ['a', 'b', 'd', 'e', 'h', 'F', '2E', '25', '%', '%d', '%e', '%h', '.', '..', '.d', '/', '\\', '\0', ' ', '-', '_', 'é', '日本', '🦊', '\u0301', '.laminate.lock', '.iset', '.lock', '0'.repeat(64)];

/** A key part: glued pieces, any well-formed text, or a long part near and past the hashing limit. */
const part: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((pieces) => pieces.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', '%', '.', 'é', '🦊'), fc.integer({ min: MAX_NAME - 70, max: MAX_NAME + 10 })).map(([c, n]) => c.repeat(Math.ceil(n / c.length))) },
);

/** A key: one part (a string key) or a tuple of 2–4 parts (a one-part tuple is the same key as its string). */
const key: fc.Arbitrary<Key> = fc.oneof(part, fc.array(part, { minLength: 2, maxLength: 4 }));

/**
 * Keys over a tiny alphabet of the map's own characters ('a', '.', '%', 'd', 'e'): some 150 parts,
 * so a set of 30 keys often holds look-alikes together, such as 'a.d' or 'a%d' beside ['a', …].
 */
const densePart = fc.array(fc.constantFrom('a', '.', '%', 'd', 'e'), { maxLength: 3 }).map((chars) => chars.join(''));
const denseKey: fc.Arbitrary<Key> = fc.oneof(densePart, fc.array(densePart, { minLength: 2, maxLength: 3 }));

/** The key as keys() lists it, for comparing sets of keys. */
const shown = (k: Key) => JSON.stringify(typeof k === 'string' ? k : k.map(String));

describe('key → file name: injective, reversible, inside the directory', () => {
  it('decodes every part back to itself, or names a hashed part with its text in the sidecar', () => {
    fc.assert(
      fc.property(part, (p) => {
        const { name, sidecar } = encodePart(p);
        expect(name.length).toBeLessThanOrEqual(MAX_NAME + 2 + 64);
        // A name never starts with '.' (the store's own files do) and never holds a separator or NUL.
        expect(name).not.toMatch(/^\.|[/\\\0]/);
        if (name.startsWith('%h')) expect(sidecar).toBe(p);
        else expect(decodePart(name)).toBe(p);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('gives two different parts two different names', () => {
    fc.assert(
      fc.property(part, part, (p, q) => {
        fc.pre(p !== q);
        expect(encodePart(p).name).not.toBe(encodePart(q).name);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it("refuses a part with a lone surrogate, which could not be told apart from U+FFFD's name", () => {
    const store = file(tempDir());
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), (p) => {
        const lone = /\p{Surrogate}/u.test(p.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));
        if (lone) expect(() => store.fileOf(p)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_KEY' }));
        else expect(decodePart(encodePart(p).name)).toBe(p);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    return store.close();
  });

  it("puts no two keys in one file, no key's file on another's folder path, and every file inside the store, below no dot name", async () => {
    const dir = tempDir();
    const store = file(dir);
    const keySets = fc.oneof(
      { weight: 1, arbitrary: fc.uniqueArray(key, { minLength: 2, maxLength: 12, selector: shown }) },
      { weight: 3, arbitrary: fc.uniqueArray(denseKey, { minLength: 2, maxLength: 40, selector: shown }) },
    );
    fc.assert(
      fc.property(keySets, (keys) => {
        const paths = keys.map((k) => store.fileOf(k));
        for (const path of paths) {
          const inside = relative(dir, path).split(sep);
          expect(inside.every((name) => name !== '' && name !== '..' && !name.startsWith('.'))).toBe(true);
        }
        for (let i = 0; i < keys.length; i++) {
          for (let j = 0; j < keys.length; j++) {
            if (i === j) continue;
            expect(paths[i], `${shown(keys[i])} and ${shown(keys[j])}`).not.toBe(paths[j]);
            // A key's file is never a folder another key's file sits in.
            expect(paths[j].startsWith(paths[i] + sep), `${shown(keys[i])} holds ${shown(keys[j])}`).toBe(false);
          }
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
    await store.close();
  });

  it('stores generated keys side by side on disk and lists and reads each back as it was written', async () => {
    const base = tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uniqueArray(key, { minLength: 1, maxLength: 8, selector: shown }), fc.uniqueArray(denseKey, { minLength: 1, maxLength: 24, selector: shown })), async (keys) => {
        const store = file(join(base, String(run++)));
        try {
          // Written in two calls, in opposite orders, so both a file-first and a folder-first path are taken.
          await store.append(keys.map((k) => [k, Buffer.from(`1${shown(k)}`)] as const));
          await store.append([...keys].reverse().map((k) => [k, Buffer.from(`2${shown(k)}`)] as const));
          expect((await store.keys()).map(shown).sort()).toEqual(keys.map(shown).sort());
          for (const k of keys) expect(Buffer.from(await store.get(k)).toString(), shown(k)).toBe(`1${shown(k)}2${shown(k)}`);
          // Reopened, the names decode to the same keys.
          await store.close();
          const again = file(join(base, String(run - 1)));
          expect((await again.keys()).map(shown).sort()).toEqual(keys.map(shown).sort());
          await again.close();
        } finally {
          await store.close();
        }
      }),
      { seed: SEED, numRuns: 40 },
    );
  });
});

// ---------------------------------------------------------------- framing

/**
 * A dict whose iter() hands a key's bytes back cut at the given points (chunks of any size, empty
 * ones included), as a socket or a file read in pieces would: frame headers and payloads split anywhere.
 */
class SplittingDict extends DictStore {
  cuts: number[] = [];

  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const chunk of super.iterId(id)) parts.push(chunk);
    const bytes = Buffer.concat(parts);
    const at = [0, ...this.cuts.map((c) => c % (bytes.byteLength + 1)).sort((a, b) => a - b), bytes.byteLength];
    for (let i = 1; i < at.length; i++) yield bytes.subarray(at[i - 1], at[i]);
  }
}

const cutPoints = fc.array(fc.nat(), { maxLength: 40 });

describe('framing: any split of the bytes reads back as the values appended', () => {
  it('zlib(): byte values (empty ones too) come back one by one from iter(), and whole from get()', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 12 }), cutPoints, async (values, cuts) => {
        const inner = new SplittingDict();
        const store = zlib(inner);
        for (const value of values) await store.append({ k: value });
        inner.cuts = cuts;
        const chunks: Buffer[] = [];
        for await (const chunk of store.iter('k')) chunks.push(Buffer.from(chunk));
        expect(chunks).toEqual(values.map((v) => Buffer.from(v)));
        expect(Buffer.from(await store.get('k'))).toEqual(Buffer.concat(values));
        await store.close();
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('msgpack(): lists of values come back one list per append from iter(), and joined from get()', async () => {
    const item = fc.oneof(fc.integer(), fc.string({ maxLength: 40 }), fc.constant('x'.repeat(70_000)), fc.boolean(), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(item, { maxLength: 6 }), { minLength: 1, maxLength: 8 }), cutPoints, async (lists, cuts) => {
        const inner = new SplittingDict();
        const store = msgpack<unknown>(inner);
        for (const list of lists) await store.append({ k: list });
        inner.cuts = cuts;
        const got: unknown[][] = [];
        for await (const list of store.iter('k')) got.push(list);
        expect(got).toEqual(lists);
        expect(await store.get('k')).toEqual(lists.flat());
        await store.close();
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
