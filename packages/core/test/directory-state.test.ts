/**
 * What a store's directory holds (store-directory.ts): which entries are the
 * store's own (and so deleted by drop()), which are someone else's (and make
 * drop() refuse), which are neither (the lock, its companions, the generation
 * file, partd's lock), and whyNotAStore()'s answer for tools that must not
 * empty a directory named by mistake. Directories are built on disk as file()
 * or another program would leave them.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { file, whyNotAStore } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { GENERATION_NAME, LOCK_BREAKER_NAME, LOCK_NAME, LOCK_WANTED_NAME } from '../src/directory-lock.js';
import { escapedLayout, LAYOUTS } from '../src/key-paths.js';
import { foreignFilesError, inventory, isetAsideName } from '../src/store-directory.js';

const tempDir = tempDirs('laminate-directory-state-test-');

/** Makes each entry under `dir`: a path ending in `/` is a folder, `@target` a symbolic link, anything else a file. */
function build(dir: string, entries: readonly string[]): void {
  for (const entry of entries) {
    const [name, target] = entry.split('@');
    const path = join(dir, name);
    if (target !== undefined) fs.symlinkSync(target, path);
    else if (name.endsWith('/')) fs.mkdirSync(path, { recursive: true });
    else fs.writeFileSync(path, 'x');
  }
}

/** inventory() of `dir`, with the own paths relative to it. */
function sorted(dir: string, layout = escapedLayout) {
  const found = inventory(dir, layout);
  return { own: found.own.map(({ path, folder }) => (folder ? `${path.slice(dir.length + 1)}/` : path.slice(dir.length + 1))), foreign: found.foreign, holdsAny: found.holdsAny };
}

describe('inventory(): what the store keeps for itself', () => {
  it('the lock (file or folder), its breaker folder, its wanted mark and the generation file are neither own nor foreign, and alone they hold nothing', () => {
    for (const lock of [LOCK_NAME, `${LOCK_NAME}/`]) {
      const dir = tempDir();
      build(dir, [lock, `${LOCK_BREAKER_NAME}/`, LOCK_WANTED_NAME, GENERATION_NAME]);
      expect(sorted(dir)).toEqual({ own: [], foreign: [], holdsAny: false });
      expect(whyNotAStore(dir)).toBeUndefined();
    }
  });

  it('each of those names with the other kind of entry (or a link) is foreign, and so are they below the top folder', () => {
    const dir = tempDir();
    build(dir, [`${LOCK_BREAKER_NAME}`, `${LOCK_WANTED_NAME}/`, `${GENERATION_NAME}/`, `${LOCK_NAME}@elsewhere`, '.lock', 'k%d/', `k%d/${GENERATION_NAME}`, `k%d/${LOCK_NAME}`]);
    expect(sorted(dir)).toEqual({
      own: ['k%d/'],
      foreign: ['.laminate.gen', '.laminate.lock', '.laminate.lock.break', '.laminate.lock.wanted', '.lock', join('k%d', '.laminate.gen'), join('k%d', '.laminate.lock')],
      holdsAny: true,
    });
  });

  it("partd's .lock file is the store's own only in the partd layout, and only at the top", () => {
    const dir = tempDir();
    build(dir, ['.lock', GENERATION_NAME]);
    expect(sorted(dir, LAYOUTS.partd)).toEqual({ own: [], foreign: [], holdsAny: false });
    expect(sorted(dir)).toEqual({ own: [], foreign: ['.lock'], holdsAny: true });
    expect(whyNotAStore(dir, { layout: 'partd' })).toBeUndefined();
    expect(whyNotAStore(dir)).toBe("it holds .lock, which file() does not write");

    const folder = tempDir();
    build(folder, ['.lock/']);
    expect(sorted(folder, LAYOUTS.partd)).toEqual({ own: [], foreign: ['.lock'], holdsAny: true });
  });
});

describe("inventory(): the store's own files and the foreign ones", () => {
  it('lists key files, sidecars and tuple folders, each folder after what it holds, and sorts the foreign entries', () => {
    const dir = tempDir();
    const sidecar = `.%h${'0'.repeat(64)}`;
    build(dir, ['zeta', 'b%d/', 'b%d/c%d/', 'b%d/c%d/d', 'b%d/e', sidecar, 'z notes.txt', 'a notes.txt', 'B%d/', 'B%d/my file', 'plain/']);
    const found = sorted(dir);
    expect(found.foreign).toEqual([join('B%d', 'my file'), 'a notes.txt', 'plain', 'z notes.txt']);
    expect([...found.own].sort()).toEqual(['B%d/', 'b%d/', 'b%d/c%d/', 'b%d/c%d/d', 'b%d/e', sidecar, 'zeta'].sort());
    const at = (name: string) => found.own.indexOf(name);
    expect(at('b%d/c%d/d')).toBeLessThan(at('b%d/c%d/'));
    expect(at('b%d/c%d/')).toBeLessThan(at('b%d/'));
    expect(at('b%d/e')).toBeLessThan(at('b%d/'));
    expect(found.holdsAny).toBe(true);
    // Absolute paths, and which of them are folders.
    expect(inventory(dir, escapedLayout).own.find(({ path }) => path === join(dir, 'b%d'))).toEqual({ path: join(dir, 'b%d'), folder: true });
    expect(inventory(dir, escapedLayout).own.find(({ path }) => path === join(dir, 'zeta'))).toEqual({ path: join(dir, 'zeta'), folder: false });
  });

  it('sorts the foreign entries as paths, not in the order the folders are walked', () => {
    const dir = tempDir();
    // The walk reaches t%d/x y (inside the tuple folder t%d) before the name t%d x beside it; as paths, ' ' sorts before '/'.
    build(dir, ['t%d/', 't%d/x y', 't%d x', 't%d/u']);
    expect(sorted(dir)).toEqual({ own: ['t%d/u', 't%d/'], foreign: ['t%d x', join('t%d', 'x y')], holdsAny: true });
  });

  it('a link is foreign whatever its name, and is not looked into', () => {
    const dir = tempDir();
    const outside = tempDir();
    build(outside, ['k', 'stray notes']);
    build(dir, [`k@${join(outside, 'k')}`, `t%d@${outside}`, `.iset@${outside}`]);
    expect(sorted(dir)).toEqual({ own: [], foreign: ['.iset', 'k', 't%d'], holdsAny: true });
  });

  it('.iset and .sealed hold escaped names whatever the layout, and values written aside (.tmp-<pid>-<random>) only there', () => {
    for (const layout of [escapedLayout, LAYOUTS.partd]) {
      const dir = tempDir();
      build(dir, ['.iset/', '.iset/m', '.iset/t%d/', '.iset/t%d/u', '.iset/t%d/.tmp-12-ab3', '.iset/.tmp-99-z9', '.iset/.tmp-99-', '.iset/with space', '.sealed/', '.sealed/s', '.sealed/.tmp-1-q']);
      build(dir, ['.iset/.tmp-x-1', '.iset/.tmp-1-A', '.iset/x .tmp-1-a', '.iset/.tmp-1-a!', '.iset/.tmp--a', '.tmp-1-a']);
      const found = sorted(dir, layout);
      expect([...found.own].sort()).toEqual(['.iset/', '.iset/.tmp-99-', '.iset/.tmp-99-z9', '.iset/m', '.iset/t%d/', '.iset/t%d/.tmp-12-ab3', '.iset/t%d/u', '.sealed/', '.sealed/.tmp-1-q', '.sealed/s'].sort());
      expect(found.foreign).toEqual(
        ['.iset/.tmp--a', '.iset/.tmp-1-A', '.iset/.tmp-1-a!', '.iset/.tmp-x-1', '.iset/x .tmp-1-a', '.iset/with space', '.tmp-1-a'].map((name) => join(...name.split('/'))).sort(),
      );
      expect(found.own.indexOf('.iset/m')).toBeLessThan(found.own.indexOf('.iset/'));
      expect(found.own.indexOf('.sealed/s')).toBeLessThan(found.own.indexOf('.sealed/'));
    }
  });

  it('.trimmed and .consumers (retention) hold escaped names as .iset does, with files written aside there too', () => {
    for (const layout of [escapedLayout, LAYOUTS.partd]) {
      const dir = tempDir();
      build(dir, ['.trimmed/', '.trimmed/k', '.trimmed/t%d/', '.trimmed/t%d/u', '.trimmed/.tmp-7-abc', '.consumers/', '.consumers/c', '.consumers/stray notes']);
      const found = sorted(dir, layout);
      expect([...found.own].sort()).toEqual(['.consumers/', '.consumers/c', '.trimmed/', '.trimmed/.tmp-7-abc', '.trimmed/k', '.trimmed/t%d/', '.trimmed/t%d/u'].sort());
      expect(found.foreign).toEqual([join('.consumers', 'stray notes')]);
    }
    const files = tempDir();
    build(files, ['.trimmed', '.consumers']);
    expect(sorted(files).foreign).toEqual(['.consumers', '.trimmed']);
  });

  it('.iset or .sealed as a file, or below the top folder, is foreign', () => {
    const dir = tempDir();
    build(dir, ['.iset', '.sealed', 'k%d/', 'k%d/.iset/', 'k%d/.iset/m']);
    expect(sorted(dir)).toEqual({ own: ['k%d/'], foreign: ['.iset', '.sealed', join('k%d', '.iset')], holdsAny: true });
  });

  it('isetAsideName() names a file of this process that the inventory counts as the store\'s own inside .iset', () => {
    const name = isetAsideName();
    expect(name).toMatch(new RegExp(`^\\.tmp-${process.pid}-[0-9a-z]+$`));
    expect(isetAsideName()).not.toBe(name);
    const dir = tempDir();
    build(dir, ['.iset/', `.iset/${name}`]);
    expect(sorted(dir).own).toEqual([`.iset/${name}`, '.iset/']);
  });
});

describe('whyNotAStore()', () => {
  it('a path that is missing, or not a directory', () => {
    const dir = tempDir();
    expect(whyNotAStore(join(dir, 'missing'))).toBe('it does not exist');
    build(dir, ['file']);
    expect(whyNotAStore(join(dir, 'file'))).toBe('it is not a directory');
  });

  it('an empty directory is a store; one holding keys without the generation file is not; the first of the foreign entries is named', () => {
    const dir = tempDir();
    expect(whyNotAStore(dir)).toBeUndefined();
    build(dir, ['k']);
    expect(whyNotAStore(dir)).toBe(`it has no ${GENERATION_NAME}, which file() writes with a store's first change`);
    build(dir, [GENERATION_NAME]);
    expect(whyNotAStore(dir)).toBeUndefined();
    build(dir, ['z z', 'a a']);
    expect(whyNotAStore(dir)).toBe('it holds a a, which file() does not write');
  });

  it('what file() writes passes, in either layout', async () => {
    for (const layout of ['escaped', 'partd'] as const) {
      const dir = tempDir();
      const store = file(dir, { layout });
      await store.append([['k', Buffer.from('v')], [['t', 'u'], Buffer.from('w')]]);
      await store.iset('m', Buffer.from('meta'));
      await store.close();
      expect(whyNotAStore(dir, { layout })).toBeUndefined();
    }
  });
});

describe('foreignFilesError()', () => {
  it('says "an entry" for one, counts more, and names at most five of them', () => {
    const one = foreignFilesError('/s', ['a']);
    expect(one.code).toBe('ERR_FOREIGN_FILES');
    expect(one.message).toBe(
      "Refusing to drop /s: it holds an entry that file() did not write (a), and drop deletes only the store's own files. Nothing was deleted. Move them out of the store's directory, or drop with file(dir).drop({ foreign: 'keep' }), which deletes the store's keys and metadata and leaves them.",
    );
    expect(foreignFilesError('/s', ['a', 'b', 'c', 'd', 'e']).message).toContain('it holds 5 entries that file() did not write (a, b, c, d, e), and drop');
    expect(foreignFilesError('/s', ['a', 'b', 'c', 'd', 'e', 'f', 'g']).message).toContain('it holds 7 entries that file() did not write (a, b, c, d, e, and 2 more), and drop');
  });
});
