import * as fs from 'node:fs';
import { join } from 'node:path';
import { type EncodedName, decodePart, encodePart, folderName, isCanonical, isHashed, isInternal, isSidecar, sidecarName, unfolder } from './filenames.js';
import { fsyncPath } from './fsync.js';
import { type KeyId, keyFromParts, keyParts } from './keys.js';
import { partdLayout } from './partd-layout.js';

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
    const base = folder ? unfolder(name) : isCanonical(name) ? name : undefined;
    if (base === undefined) return undefined;
    return isHashed(base) ? fs.readFileSync(join(dir, sidecarName(base)), 'utf8') : decodePart(base);
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

/** The paths of the keys under one directory (the store's, or its iset folder), cached by key. */
export class KeyPaths {
  private readonly cache = new Map<KeyId, string>();

  constructor(
    readonly root: string,
    readonly layout: KeyLayout,
  ) {}

  /** The file that holds `id`'s bytes; it need not exist. */
  of(id: KeyId): string {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    const names = this.layout.encode(keyParts(id), id);
    let path = this.root;
    for (let i = 0; i < names.length; i++) path = join(path, i < names.length - 1 ? this.layout.folder(names[i].name) : names[i].name);
    if (this.cache.size >= 100_000) this.cache.clear();
    this.cache.set(id, path);
    return path;
  }

  /** Makes the folders of a tuple key and the sidecars of hashed names; `durable` fsyncs each sidecar. */
  prepare(id: KeyId, durable: boolean): void {
    const names = this.layout.encode(keyParts(id), id);
    let dir = this.root;
    for (let i = 0; i < names.length; i++) {
      const { name, sidecar } = names[i];
      if (sidecar !== undefined && !fs.existsSync(join(dir, sidecarName(name)))) {
        fs.writeFileSync(join(dir, sidecarName(name)), sidecar);
        // The key's name lives only in its sidecar: it must be as durable as the data.
        if (durable) fsyncPath(join(dir, sidecarName(name)));
      }
      if (i < names.length - 1) {
        dir = join(dir, this.layout.folder(name));
        fs.mkdirSync(dir, { recursive: true });
      }
    }
  }

  /** True when `error`, from opening, reading or stat-ing a key's file, means that the key holds nothing. */
  absent(error: unknown): boolean {
    const code = (error as NodeJS.ErrnoException).code;
    // With bare folders, a folder may sit where the key's file would be, or a file where its folder would be.
    return code === 'ENOENT' || (this.layout.bareFolders && (code === 'EISDIR' || code === 'ENOTDIR'));
  }

  /** True when something is at `path` (a key's file, or with bare folders perhaps a folder). */
  exists(path: string): boolean {
    try {
      return fs.statSync(path, { throwIfNoEntry: false }) !== undefined;
    } catch (error) {
      if (this.absent(error)) return false;
      throw error;
    }
  }

  /**
   * Refuses, before a call writes anything, keys that this layout cannot
   * hold (their paths are made here, so a name it refuses throws) or cannot
   * store beside each other or beside what is on disk. `isOpen` tells the
   * keys whose file is open, which passed already. The escaped layout
   * refuses nothing, so its appends skip this.
   */
  checkNew(ids: Iterable<KeyId>, isOpen?: (id: KeyId) => boolean): void {
    if (!this.layout.checkNew) return;
    const files = new Map<string, KeyId>();
    for (const id of ids) if (!isOpen?.(id)) files.set(this.of(id), id);
    this.layout.checkNew(this.root, files);
  }

  remove(id: KeyId): void {
    this.layout.remove(this.root, this.of(id));
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
