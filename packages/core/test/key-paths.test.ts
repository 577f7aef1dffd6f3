/**
 * From keys to the paths of their files and back (key-paths.ts), below
 * file(): the path of each key in either layout, the longest path the system
 * opens, the folders and long names' sidecars made before a write, links
 * planted on the way (refused, never followed), what counts as a key that
 * holds nothing, and the listing of the keys a directory holds.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { file, isLaminateError } from '@laminate/core';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';
import { tmpfsMounts } from './fixtures/tmpfs.js';
import { KeyPaths, LAYOUTS, escapedLayout } from '../src/key-paths.js';
import { type KeyId, keyFromId, keyId } from '../src/keys.js';
import { encodePart } from '../src/filenames.js';

const tempDir = tempDirs('laminate-key-paths-test-', afterAll);
const mountTmpfs = tmpfsMounts(tempDir);

/** Fills `dir` (a tmpfs) until the system says ENOSPC: with `inodes`, with empty files, else with one growing file. */
function fill(dir: string, inodes: boolean): void {
  try {
    if (inodes) for (let i = 0; ; i++) fs.writeFileSync(join(dir, `f${i}`), '');
    const fd = fs.openSync(join(dir, 'fill'), 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096));
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  }
}
const id = (key: string | string[]): KeyId => keyId(key);
const LONG = 'L'.repeat(250);
const HASHED = encodePart(LONG).name;
/** The longest path the system opens, less its NUL, on Linux. */
const MAX_PATH_BYTES = 4095;

/**
 * A key of many parts whose file's path under `root` is `bytes` long: folders
 * of at most 200 characters (no name is hashed), each costing its length and
 * `folderCost` more ("/" and the "%d" mark, or "/" alone in partd), then a
 * last part of about 100.
 */
function keyOfPathLength(root: string, bytes: number, folderCost: number): string[] {
  let budget = bytes - Buffer.byteLength(root) - 1 - 100;
  const parts: string[] = [];
  const folder = (length: number) => parts.push(String(parts.length % 10).repeat(length));
  while (budget >= 200 + folderCost + 4) {
    folder(200);
    budget -= 200 + folderCost;
  }
  if (budget > 200 + folderCost) {
    folder(100);
    budget -= 100 + folderCost;
  }
  let last = 100;
  if (budget > folderCost) folder(budget - folderCost);
  else last += budget;
  return [...parts, 'z'.repeat(last)];
}

describe('KeyPaths.of(): the file of a key', () => {
  it('escaped layout: tuple parts are %d folders, long parts hashed; partd layout: bare names and folders', () => {
    const root = tempDir();
    const escaped = new KeyPaths(root, escapedLayout);
    expect(escaped.of(id('k'))).toBe(join(root, 'k'));
    expect(escaped.of(id(['a', 'b', 'c']))).toBe(join(root, 'a%d', 'b%d', 'c'));
    expect(escaped.of(id(['a b', LONG]))).toBe(join(root, 'a%20b%d', HASHED));
    expect(escaped.of(id(['a', 'b', 'c']))).toBe(join(root, 'a%d', 'b%d', 'c'));
    const partd = new KeyPaths(root, LAYOUTS.partd);
    expect(partd.of(id(['a', 'b', 'c']))).toBe(join(root, 'a', 'b', 'c'));
    expect(partd.of(id('x y'))).toBe(join(root, 'x y'));
  });

  it('refuses with ERR_INVALID_KEY a key whose path would pass the longest the system opens, and takes one of exactly that length', () => {
    const root = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    const fits = keyOfPathLength(root, MAX_PATH_BYTES, 3);
    expect(Buffer.byteLength(paths.of(id(fits)))).toBe(MAX_PATH_BYTES);
    const tooLong = keyOfPathLength(root, MAX_PATH_BYTES + 1, 3);
    expect(Buffer.byteLength(join(root, ...tooLong.slice(0, -1).map((part) => `${part}%d`), tooLong.at(-1)!))).toBe(MAX_PATH_BYTES + 1);
    const error = thrown(() => paths.of(id(tooLong)));
    expect(isLaminateError(error, 'ERR_INVALID_KEY')).toBe(true);
    expect(error.message).toContain(`is too long for file(): its file's path would be ${MAX_PATH_BYTES + 1} bytes, and the system opens paths of at most ${MAX_PATH_BYTES}, so no file can hold it`);
    // The key is shown cut to its first 100 characters.
    expect(error.message.startsWith(`Key ${JSON.stringify(tooLong).slice(0, 100)}… is too long`)).toBe(true);
    expect((error as unknown as { key: string }).key).toBe(JSON.stringify(tooLong));
  });

  it('counts bytes, not characters, in a directory whose name is not ASCII', () => {
    const root = join(tempDir(), 'é'.repeat(100));
    const paths = new KeyPaths(root, LAYOUTS.partd);
    expect(Buffer.byteLength(paths.of(id(keyOfPathLength(root, MAX_PATH_BYTES, 1))))).toBe(MAX_PATH_BYTES);
    expect(isLaminateError(thrown(() => paths.of(id(keyOfPathLength(root, MAX_PATH_BYTES + 1, 1)))), 'ERR_INVALID_KEY')).toBe(true);
  });

  it("a key shown in 100 characters or fewer is shown whole in the message", () => {
    const root = join(tempDir(), 'd'.repeat(4090));
    const error = thrown(() => new KeyPaths(root, escapedLayout).of(id('short')));
    expect(error.message.startsWith('Key "short" is too long for file()')).toBe(true);
    const hundred = 'h'.repeat(98);
    expect(thrown(() => new KeyPaths(root, escapedLayout).of(id(hundred))).message.startsWith(`Key "${hundred}" is too long`)).toBe(true);
  });
});

describe('KeyPaths: folders and sidecars made before a write', () => {
  it("prepare() makes a tuple's folders and the sidecar of each long part, holding the part's text", () => {
    const root = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    const key = id([LONG, 'm', `${LONG}!`]);
    paths.prepare(key, false);
    const last = encodePart(`${LONG}!`).name;
    expect(fs.readFileSync(join(root, `.${HASHED}`), 'utf8')).toBe(LONG);
    expect(fs.statSync(join(root, `${HASHED}%d`, 'm%d')).isDirectory()).toBe(true);
    expect(fs.readFileSync(join(root, `${HASHED}%d`, 'm%d', `.${last}`), 'utf8')).toBe(`${LONG}!`);
    expect(paths.of(key)).toBe(join(root, `${HASHED}%d`, 'm%d', last));
    expect(fs.existsSync(paths.of(key))).toBe(false);
    // Durably, the same files.
    const durable = new KeyPaths(tempDir(), escapedLayout);
    durable.prepare(key, true);
    expect(fs.readFileSync(join(durable.root, `${HASHED}%d`, 'm%d', `.${last}`), 'utf8')).toBe(`${LONG}!`);
  });

  it('keeps a sidecar already there, and folders already there', () => {
    const root = tempDir();
    fs.writeFileSync(join(root, `.${HASHED}`), LONG);
    fs.mkdirSync(join(root, 'a%d'));
    fs.writeFileSync(join(root, 'a%d', 'kept'), 'x');
    const paths = new KeyPaths(root, escapedLayout);
    paths.prepare(id(LONG), false);
    paths.prepare(id(['a', 'b']), false);
    expect(fs.readFileSync(join(root, `.${HASHED}`), 'utf8')).toBe(LONG);
    expect(fs.readFileSync(join(root, 'a%d', 'kept'), 'utf8')).toBe('x');
  });

  it('a link in place of a folder or a sidecar is ERR_SYMLINK naming the key, and nothing is made through it', () => {
    const root = tempDir();
    const outside = tempDir();
    fs.symlinkSync(outside, join(root, 'a%d'));
    fs.symlinkSync(join(outside, 'sidecar'), join(root, `.${HASHED}`));
    const paths = new KeyPaths(root, escapedLayout);
    for (const key of [id(['a', 'b', 'c']), id(LONG)]) {
      const error = thrown(() => paths.prepare(key, false));
      expect(isLaminateError(error, 'ERR_SYMLINK')).toBe(true);
      expect((error as unknown as { key: string }).key).toBe(JSON.stringify(keyFromId(key)));
    }
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('makes only the key\'s folders and sidecars, and works in a store reached through a link to its directory', () => {
    const real = tempDir();
    const root = join(tempDir(), 'link');
    fs.symlinkSync(real, root);
    const paths = new KeyPaths(root, escapedLayout);
    const key = id([LONG, 'b', 'c']);
    paths.prepare(key, false);
    expect(paths.reach(key)).toBe(join(root, `${HASHED}%d`, 'b%d', 'c'));
    expect(fs.readdirSync(real).sort()).toEqual([`${HASHED}%d`, `.${HASHED}`].sort());
    expect(fs.readdirSync(join(real, `${HASHED}%d`))).toEqual(['b%d']);
  });

  it('on a full disk: no inode for a folder or a sidecar, or no room for a sidecar, is ENOSPC, and no sidecar is left cut short', () => {
    const inodes = mountTmpfs('size=1m,nr_inodes=8');
    fill(inodes, true);
    expect((thrown(() => new KeyPaths(inodes, escapedLayout).prepare(id(['a', 'b']), false)) as unknown as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(fs.existsSync(join(inodes, 'a%d'))).toBe(false);

    // No inode for a sidecar either: the create itself fails, and that error (not a failed clean-up's) is what the caller sees.
    const noInode = mountTmpfs('size=1m,nr_inodes=8');
    fill(noInode, true);
    const before = fs.readdirSync(noInode).sort();
    expect((thrown(() => new KeyPaths(noInode, escapedLayout).prepare(id(LONG), false)) as unknown as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(fs.readdirSync(noInode).sort()).toEqual(before);

    const space = mountTmpfs('size=64k');
    fill(space, false);
    expect((thrown(() => new KeyPaths(space, escapedLayout).prepare(id(LONG), false)) as unknown as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(fs.readdirSync(space)).toEqual(['fill']);
  });

  it("makes nothing outside the store's directory: no folder appears in the working directory", () => {
    // A path made relative by mistake would land in the working directory, wherever the program runs.
    const cwd = process.cwd();
    const before = new Set(fs.readdirSync(cwd));
    const root = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    paths.prepare(id(['a', 'b', 'c']), false);
    paths.prepare(id([LONG, 'm']), true);
    paths.reach(id(['x', 'y']));
    expect(fs.readdirSync(cwd).filter((name) => !before.has(name))).toEqual([]);
    expect(fs.readdirSync(root).sort()).toEqual(['a%d', `${HASHED}%d`, `.${HASHED}`].sort());
  });

  it('a file where a folder must go is the system\'s EEXIST', () => {
    const root = tempDir();
    fs.writeFileSync(join(root, 'a%d'), 'not a folder');
    expect((thrown(() => new KeyPaths(root, escapedLayout).prepare(id(['a', 'b']), false)) as unknown as NodeJS.ErrnoException).code).toBe('EEXIST');
  });
});

describe('KeyPaths: links on the way to a key, checked once', () => {
  it('reach() refuses a link at any folder on the way; a missing folder, or a file in its place, means the key holds nothing', () => {
    const root = tempDir();
    const outside = tempDir();
    fs.mkdirSync(join(root, 'a%d'));
    fs.symlinkSync(outside, join(root, 'a%d', 'b%d'));
    const paths = new KeyPaths(root, escapedLayout);
    const error = thrown(() => paths.reach(id(['a', 'b', 'c'])));
    expect(isLaminateError(error, 'ERR_SYMLINK')).toBe(true);
    expect(error.message.startsWith(`${join(root, 'a%d', 'b%d')} is a symbolic link`)).toBe(true);
    expect(paths.reach(id(['x', 'y', 'z']))).toBe(join(root, 'x%d', 'y%d', 'z'));
    fs.writeFileSync(join(root, 'f%d'), '');
    expect(paths.reach(id(['f', 'g']))).toBe(join(root, 'f%d', 'g'));
  });

  it('a folder found real is not checked again until forgetFolders() or remove(); then a link planted there is refused', () => {
    const root = tempDir();
    const outside = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    const key = id(['a', 'b']);
    paths.prepare(key, false);
    fs.writeFileSync(paths.of(key), 'v');
    paths.reach(key);
    const plant = () => {
      fs.rmSync(join(root, 'a%d'), { recursive: true });
      fs.symlinkSync(outside, join(root, 'a%d'));
    };
    plant();
    expect(paths.reach(key)).toBe(join(root, 'a%d', 'b'));
    paths.forgetFolders();
    expect(isLaminateError(thrown(() => paths.reach(key)), 'ERR_SYMLINK')).toBe(true);

    const other = tempDir();
    const second = new KeyPaths(other, escapedLayout);
    const kept = id(['t', 'k']);
    second.prepare(kept, false);
    fs.writeFileSync(second.of(kept), 'v');
    second.reach(kept);
    expect(second.stat(kept)?.isFile()).toBe(true);
    second.remove(kept);
    expect(fs.existsSync(second.of(kept))).toBe(false);
    // Removing a key that holds nothing is no error.
    second.remove(kept);
    second.remove(id('never'));
    fs.rmdirSync(join(other, 't%d'));
    fs.symlinkSync(outside, join(other, 't%d'));
    expect(isLaminateError(thrown(() => second.reach(kept)), 'ERR_SYMLINK')).toBe(true);
    expect(isLaminateError(thrown(() => second.prepare(kept, false)), 'ERR_SYMLINK')).toBe(true);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("prepare() after a removal elsewhere checks the folders again", () => {
    const root = tempDir();
    const outside = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    const key = id(['a', 'b']);
    paths.prepare(key, false);
    fs.rmdirSync(join(root, 'a%d'));
    fs.symlinkSync(outside, join(root, 'a%d'));
    paths.forgetFolders();
    expect(isLaminateError(thrown(() => paths.prepare(key, false)), 'ERR_SYMLINK')).toBe(true);
  });

  it('an iset folder checks only the folders below the store: its own root is checked by its caller', () => {
    const root = tempDir();
    fs.mkdirSync(join(root, '.iset'));
    const iset = new KeyPaths(join(root, '.iset'), escapedLayout, root);
    expect(iset.reach(id(['m', 'n']))).toBe(join(root, '.iset', 'm%d', 'n'));
    iset.prepare(id(['m', 'n']), false);
    expect(fs.statSync(join(root, '.iset', 'm%d')).isDirectory()).toBe(true);
  });
});

describe('KeyPaths: a key that holds nothing, and stat()', () => {
  it('absent(): ENOENT and ENOTDIR (a file on the way) in either layout; EISDIR only where a key and a folder share a name (partd)', () => {
    const escaped = new KeyPaths(tempDir(), escapedLayout);
    const partd = new KeyPaths(tempDir(), LAYOUTS.partd);
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect([escaped.absent(err('ENOENT')), escaped.absent(err('EISDIR')), escaped.absent(err('ENOTDIR')), escaped.absent(err('EACCES'))]).toEqual([true, false, true, false]);
    expect([partd.absent(err('ENOENT')), partd.absent(err('EISDIR')), partd.absent(err('ENOTDIR')), partd.absent(err('EACCES'))]).toEqual([true, true, true, false]);
  });

  it('stat(): undefined for nothing there, the file when there is one, ERR_SYMLINK for a link; in partd, a file where a folder is on the way holds nothing', () => {
    const root = tempDir();
    const paths = new KeyPaths(root, LAYOUTS.partd);
    expect(paths.stat(id('k'))).toBeUndefined();
    fs.writeFileSync(join(root, 'k'), 'abc');
    expect(paths.stat(id('k'))?.size).toBe(3);
    expect(paths.stat(id(['k', 'x']))).toBeUndefined();
    fs.symlinkSync(join(root, 'k'), join(root, 'l'));
    expect(isLaminateError(thrown(() => paths.stat(id('l'))), 'ERR_SYMLINK')).toBe(true);
    // A folder in a key's place: there, not a file.
    fs.mkdirSync(join(root, 'd'));
    expect(paths.stat(id('d'))?.isDirectory()).toBe(true);
  });
});

describe('a file where a tuple key\'s folder goes (escaped layout): the key cannot exist, and holds nothing', () => {
  it('stat() finds nothing for a key below a file put where its folder goes, however deep; a link there is still refused', () => {
    const root = tempDir();
    fs.writeFileSync(join(root, 'f%d'), 'not a folder');
    const paths = new KeyPaths(root, escapedLayout);
    expect(paths.stat(id(['f', 'g']))).toBeUndefined();
    expect(paths.stat(id(['f', 'g', 'h']))).toBeUndefined();
    fs.mkdirSync(join(root, 'a%d'));
    fs.writeFileSync(join(root, 'a%d', 'b%d'), 'not a folder');
    expect(paths.stat(id(['a', 'b', 'c']))).toBeUndefined();
    fs.symlinkSync(join(root, 'f%d'), join(root, 'a%d', 'l'));
    expect(isLaminateError(thrown(() => paths.stat(id(['a', 'l']))), 'ERR_SYMLINK')).toBe(true);
  });

  it('through file(): get(), getMany(), iter() and delete() find the key missing, keys() does not list it, and an append to it is refused, changing nothing', async () => {
    const root = tempDir();
    const store = file(root);
    try {
      await store.append({ k: Buffer.from('v') });
      fs.writeFileSync(join(root, 'f%d'), 'stray');
      expect(Buffer.from(await store.get(['f', 'g'])).byteLength).toBe(0);
      expect((await store.getMany([['f', 'g'], 'k'])).map((bytes) => Buffer.from(bytes).toString())).toEqual(['', 'v']);
      const pieces: Uint8Array[] = [];
      for await (const piece of store.iter(['f', 'g'])) pieces.push(piece);
      expect(Buffer.concat(pieces).byteLength).toBe(0);
      await store.delete(['f', 'g']);
      expect(await store.keys()).toEqual(['k']);
      const refused = await rejection(store.append([[['f', 'g'], Buffer.from('x')], ['k', Buffer.from('w')]]));
      expect(refused.code).toBe('ERR_IO');
      expect(refused.message).toContain('EEXIST');
      expect(refused.message).toContain('Nothing of this append call was stored');
      expect(Buffer.from(await store.get('k')).toString()).toBe('v');
      expect(fs.readFileSync(join(root, 'f%d'), 'utf8')).toBe('stray');
    } finally {
      await store.close();
    }
  });
});

describe('KeyPaths.checkNew()', () => {
  it("partd: refuses a new key whose file would be another new key's folder, but not one whose file is open already", () => {
    const root = tempDir();
    const paths = new KeyPaths(root, LAYOUTS.partd);
    expect(isLaminateError(thrown(() => paths.checkNew([id('a'), id(['a', 'b'])])), 'ERR_INVALID_KEY')).toBe(true);
    paths.checkNew([id('a'), id(['a', 'b'])], (key) => key === id('a'));
    paths.checkNew([id('a'), id('b')]);
  });

  it('escaped: refuses only a path too long for the system, even for a key whose file is open', () => {
    const root = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    paths.checkNew([id('a'), id(['a', 'b'])]);
    const long = Array.from({ length: 25 }, () => 'p'.repeat(200));
    expect(isLaminateError(thrown(() => paths.checkNew([id(long)])), 'ERR_INVALID_KEY')).toBe(true);
    paths.checkNew([id(long)], () => true);
  });
});

describe('KeyPaths.list() and the escaped names it reads', () => {
  it('lists every key, tuples and long keys included, and passes over links, the store\'s own files, names it does not write and other kinds of entry', () => {
    const root = tempDir();
    const paths = new KeyPaths(root, escapedLayout);
    const keys = [id('k'), id(['a', 'b']), id(['a', 'c', 'd']), id(LONG), id([LONG, 'x']), id(''), id('a b')];
    for (const key of keys) {
      paths.prepare(key, false);
      fs.writeFileSync(paths.of(key), 'v');
    }
    fs.writeFileSync(join(root, '.laminate.gen'), '');
    fs.writeFileSync(join(root, 'not canonical %41'), '');
    fs.writeFileSync(join(root, '%41'), '');
    fs.mkdirSync(join(root, 'plainfolder'));
    fs.writeFileSync(join(root, 'plainfolder', 'inside'), '');
    fs.mkdirSync(join(root, 'x y%d'));
    fs.writeFileSync(join(root, 'x y%d', 'inside'), '');
    fs.mkdirSync(join(root, '.iset'));
    fs.writeFileSync(join(root, '.iset', 'm'), '');
    fs.symlinkSync(join(root, 'k'), join(root, 'linked'));
    fs.symlinkSync(join(root, 'a%d'), join(root, 'z%d'));
    spawnFifo(join(root, 'fifo'));
    expect(paths.list().sort()).toEqual([...keys].sort());
  });

  it('escapedLayout.writes(): canonical names and sidecars as files, canonical names with the folder mark as folders', () => {
    const w = escapedLayout.writes;
    expect([w('a', false, 0), w('a b', false, 0), w(`.${HASHED}`, false, 0), w('.x', false, 0), w('%41', false, 0)]).toEqual([true, false, true, false, false]);
    expect([w('a%d', true, 0), w('a', true, 0), w('a b%d', true, 0), w(`${HASHED}%d`, true, 0), w('%41%d', true, 0)]).toEqual([true, false, false, true, false]);
  });
});

/** A named pipe: neither a file nor a folder. */
function spawnFifo(path: string): void {
  // mkfifo is in coreutils; node has no call for it.
  const { status } = spawnSync('mkfifo', [path]);
  expect(status).toBe(0);
}
