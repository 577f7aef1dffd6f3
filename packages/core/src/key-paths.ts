import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { type EncodedName, decodePart, encodePart, folderName, isCanonical, isHashed, isInternal, isSidecar, sidecarName, unfolder } from './filenames.js';
import { fsyncPath } from './fsync.js';
import { type KeyId, keyFromParts, keyParts, showKey } from './keys.js';
import { type LaminateError, typeError } from './errors.js';
import { partdLayout } from './partd-layout.js';
import { readOwn, refuseLink } from './symlinks.js';

/** How file() names keys on disk: `escaped` (the default, filenames.ts) or `partd` (partd-layout.ts). */
export type LayoutName = 'escaped' | 'partd';

/** A map from keys to the files and folders that hold them, and back. */
export interface KeyLayout {
  readonly name: LayoutName;
  /** One name per part of the key `id`; throws ERR_INVALID_KEY for a key the layout cannot hold. */
  encode(parts: readonly string[], id: KeyId): EncodedName[];
  /** The folder that holds the later parts of the tuple keys whose part is named `name`. */
  folder(name: string): string;
  /** The key part that a file (or, with `folder`, a folder) named `name`, `depth` folders below the store's directory, stands for; undefined when it holds no key. */
  partOf(dir: string, name: string, folder: boolean, depth: number): string | undefined;
  /** True when the layout writes a file or folder of this name, `depth` folders down (for whyNotAStore). */
  writes(name: string, folder: boolean, depth: number): boolean;
  /**
   * True when a tuple's folders have the bare names of its parts (partd), so
   * that a key's file and the folder of the longer tuple keys starting with it
   * would share one name: finding the other kind there means the key holds
   * nothing, and a new key that needs the name is refused (checkNew).
   */
  readonly bareFolders: boolean;
  /** Refuses, before anything is written, new keys (files by path) that cannot be stored beside each other or beside what `root` holds. */
  checkNew?(root: string, files: ReadonlyMap<string, KeyId>): void;
  /** Deletes the key file at `path`; a key that holds nothing is no error. */
  remove(root: string, path: string): void;
}

/** The default layout: every part escaped (filenames.ts), so that any key fits and 'a' and ['a', 'b'] coexist. */
export const escapedLayout: KeyLayout = {
  name: 'escaped',
  encode: (parts) => parts.map(encodePart),
  folder: folderName,
  partOf(dir, name, folder) {
    if (isInternal(name)) return undefined;
    // A folder as much as a file: 'x y%d' is no name this map gives, and get() of ['x y', …] would never look there.
    const base = folder ? unfolder(name) : name;
    if (base === undefined || !isCanonical(base)) return undefined;
    return isHashed(base) ? readOwn(join(dir, sidecarName(base))).toString('utf8') : decodePart(base);
  },
  writes(name, folder) {
    if (!folder) return isCanonical(name) || isSidecar(name);
    const base = unfolder(name);
    return base !== undefined && isCanonical(base);
  },
  bareFolders: false,
  remove: (_root, path) => fs.rmSync(path, { force: true }),
};

export const LAYOUTS: Readonly<Record<LayoutName, KeyLayout>> = { escaped: escapedLayout, partd: partdLayout };

/** The longest path the system opens (PATH_MAX, less its NUL); a longer one is ENAMETOOLONG. */
const MAX_PATH_BYTES = (process.platform === 'darwin' ? 1024 : 4096) - 1;

function pathTooLong(id: KeyId, path: string): LaminateError {
  const key = showKey(id);
  return typeError(
    'ERR_INVALID_KEY',
    `Key ${key.length > 100 ? `${key.slice(0, 100)}…` : key} is too long for file(): its file's path would be ${Buffer.byteLength(path)} bytes, and the system opens paths of at most ${MAX_PATH_BYTES}, so no file can hold it; a call that names it changes nothing. Use fewer or shorter key parts, or a store directory with a shorter path.`,
    { key },
  );
}

/**
 * The paths of the keys under one directory (the store's, or its iset folder),
 * cached by key. No folder on the way from `base` (the store's directory) to a
 * key's file may be a symbolic link (symlinks.ts): each is checked with lstat
 * before the first read or write through it.
 */
export class KeyPaths {
  private readonly cache = new Map<KeyId, string>();
  /**
   * Folders below `base` this store made or found to be real folders, so that
   * a key's folders are checked once, not on every open. Forgotten when files
   * may have been removed (forgetFolders), after which a link could stand there.
   */
  private readonly folders = new Set<string>();

  constructor(
    readonly root: string,
    readonly layout: KeyLayout,
    readonly base = root,
  ) {}

  /** The file that holds `id`'s bytes; it need not exist. */
  of(id: KeyId): string {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    const names = this.layout.encode(keyParts(id), id);
    let path = this.root;
    for (let i = 0; i < names.length; i++) path = join(path, i < names.length - 1 ? this.layout.folder(names[i].name) : names[i].name);
    // A UTF-16 unit is at most 3 bytes of UTF-8: most paths pass without counting their bytes.
    if (path.length * 3 > MAX_PATH_BYTES && Buffer.byteLength(path) > MAX_PATH_BYTES) throw pathTooLong(id, path);
    if (this.cache.size >= 100_000) this.cache.clear();
    this.cache.set(id, path);
    return path;
  }

  /** The folders from `base` (not included) down to the one holding `path`, outermost first. */
  private foldersOf(path: string): string[] {
    const folders: string[] = [];
    for (let dir = dirname(path); dir.length > this.base.length; dir = dirname(dir)) folders.push(dir);
    return folders.reverse();
  }

  /**
   * The file that holds `id`'s bytes, once no folder on the way to it is a
   * link (ERR_SYMLINK). A folder missing on the way (or a file in its place)
   * ends the check: the key holds nothing, as opening its file will find.
   */
  reach(id: KeyId): string {
    const path = this.of(id);
    // Outermost first: each lstat runs in a folder already found real, so none follows a link.
    for (const dir of this.foldersOf(path)) {
      if (this.folders.has(dir)) continue;
      const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
      refuseLink(dir, stat, id);
      if (!stat?.isDirectory()) break;
      this.folders.add(dir);
    }
    return path;
  }

  /** Makes the folders of `id`'s file (each checked as reach() does) and the sidecars of hashed names; `durable` fsyncs each sidecar. */
  prepare(id: KeyId, durable: boolean): void {
    const path = this.of(id);
    for (const dir of this.foldersOf(path)) {
      if (this.folders.has(dir)) continue;
      try {
        fs.mkdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const stat = fs.lstatSync(dir);
        refuseLink(dir, stat, id);
        if (!stat.isDirectory()) throw error;
      }
      this.folders.add(dir);
    }
    if (!path.includes('%h')) return;
    const names = this.layout.encode(keyParts(id), id);
    let dir = this.root;
    for (let i = 0; i < names.length; i++) {
      const { name, sidecar } = names[i];
      if (sidecar !== undefined) this.writeSidecar(join(dir, sidecarName(name)), sidecar, durable, id);
      dir = join(dir, this.layout.folder(name));
    }
  }

  private writeSidecar(path: string, text: string, durable: boolean, id: KeyId): void {
    const stat = fs.lstatSync(path, { throwIfNoEntry: false });
    refuseLink(path, stat, id);
    if (stat !== undefined) return;
    try {
      // 'wx' (O_EXCL) creates the file or fails; it never writes through a link, even one planted since the lstat.
      fs.writeFileSync(path, text, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
      // Cut short (a full disk), it would name the key wrongly for good: the next call writes it whole.
      fs.rmSync(path, { force: true });
      throw error;
    }
    // The key's name lives only in its sidecar: it must be as durable as the data.
    if (durable) fsyncPath(path);
  }

  /** Forgets which folders were found real: after a removal elsewhere, a link may stand where one of them was. */
  forgetFolders(): void {
    this.folders.clear();
  }

  /** True when `error`, from opening, reading or stat-ing a key's file, means that the key holds nothing. */
  absent(error: unknown): boolean {
    const code = (error as NodeJS.ErrnoException).code;
    // A file where a folder on the way should be holds no key below it, in either layout (keys() lists none, and a
    // write there is refused with EEXIST); with bare folders, a folder may also sit where the key's file would be.
    return code === 'ENOENT' || code === 'ENOTDIR' || (this.layout.bareFolders && code === 'EISDIR');
  }

  /**
   * What is at `id`'s path (its file, or with bare folders perhaps a folder),
   * without following links: a link there or on the way is ERR_SYMLINK;
   * undefined when nothing is.
   */
  stat(id: KeyId): fs.Stats | undefined {
    const path = this.reach(id);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(path, { throwIfNoEntry: false });
    } catch (error) {
      if (this.absent(error)) return undefined;
      throw error;
    }
    refuseLink(path, stat, id);
    return stat;
  }

  /**
   * Refuses, before a call writes anything, keys that this layout cannot
   * hold (their paths are made here, so a name it refuses throws) or cannot
   * store beside each other or beside what is on disk. `isOpen` tells the
   * keys whose file is open, which passed already. The escaped layout
   * refuses only paths too long for the system.
   */
  checkNew(ids: Iterable<KeyId>, isOpen?: (id: KeyId) => boolean): void {
    const files = new Map<string, KeyId>();
    for (const id of ids) if (!isOpen?.(id)) files.set(this.of(id), id);
    this.layout.checkNew?.(this.root, files);
  }

  /** Removes `id`'s file (and, in the partd layout, the folders that leaves empty); call stat(id) first, which refuses links. */
  remove(id: KeyId): void {
    const path = this.of(id);
    this.layout.remove(this.root, path);
    for (const dir of this.foldersOf(path)) this.folders.delete(dir);
  }

  /** Every key under the directory; symlinks and names the layout does not write are passed over. */
  list(): KeyId[] {
    const ids: KeyId[] = [];
    const walk = (dir: string, prefix: string[]): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const folder = entry.isDirectory();
        if (!folder && !entry.isFile()) continue;
        const part = this.layout.partOf(dir, entry.name, folder, prefix.length);
        if (part === undefined) continue;
        if (folder) walk(join(dir, entry.name), [...prefix, part]);
        else ids.push(keyFromParts([...prefix, part]));
      }
    };
    walk(this.root, []);
    return ids;
  }
}
