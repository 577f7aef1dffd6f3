import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { GENERATION_NAME, LOCK_BREAKER_NAME, LOCK_NAME, LOCK_WANTED_NAME } from './directory-lock.js';
import { LaminateError } from './errors.js';
import { type KeyLayout, type LayoutName, LAYOUTS, escapedLayout } from './key-paths.js';

/** Where iset values live, under the escaped names whatever the layout: they are laminate's metadata, never partd's. */
export const ISET_DIR = '.iset';
/** Where seal markers live (follow-file.ts), named and written as iset values are. */
export const SEAL_DIR = '.sealed';
/** Where the starts of trimmed keys live, and where a trim writes a key's new file before renaming it into place (retention-file.ts). */
export const TRIM_DIR = '.trimmed';
/** Where consumers' positions live (retention-file.ts). */
export const CONSUMER_DIR = '.consumers';

/** A name for an iset value written aside in ISET_DIR before it is linked into place; a crash may leave one behind. */
export function isetAsideName(): string {
  return `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}
const ISET_ASIDE = /^\.tmp-\d+-[0-9a-z]*$/;

/** Python partd's lock file, which a directory shared with partd holds. */
const PARTD_LOCK = '.lock';

/** What a store's directory holds, sorted into what file() writes there and what it does not. */
export interface Inventory {
  /**
   * Key files, long names' sidecars, iset values and the folders holding them
   * (absolute paths), each folder after what it holds, so that removing them
   * in this order empties each folder before it is removed.
   */
  own: { path: string; folder: boolean }[];
  /**
   * Everything else, relative to the directory and sorted: anything with a
   * name the layout does not write, and every symlink. A folder of that kind
   * is one entry; what it holds is not looked at.
   */
  foreign: string[];
  /** True when the directory holds anything but the lock, the generation file and partd's lock. */
  holdsAny: boolean;
}

/**
 * Sorts what the directory at `path` holds without following a link: what
 * file() writes there (key files under the names its layout gives,
 * filenames.ts: tuple keys in `%d` folders, long names' `.%h` sidecars;
 * partd-layout.ts: plain names and folders; iset metadata under `.iset`) and
 * what someone else put there. The lock and the generation file, and partd's
 * `.lock` in the partd layout, are neither: the store keeps them.
 */
export function inventory(path: string, layout: KeyLayout): Inventory {
  const own: Inventory['own'] = [];
  const foreign: string[] = [];
  let holdsAny = false;
  const visit = (dir: string, depth: number, names: KeyLayout, iset: boolean): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      const at = join(dir, name);
      const top = dir === path;
      // The lock is a file (or, with the mkdir strategy, a folder); the breaker folder stands beside it only while a dead process's lock is removed;
      // the wanted mark while processes wait for it.
      if (top && name === LOCK_NAME && (entry.isFile() || entry.isDirectory())) continue;
      if (top && name === LOCK_BREAKER_NAME && entry.isDirectory()) continue;
      if (top && name === LOCK_WANTED_NAME && entry.isFile()) continue;
      if (top && name === GENERATION_NAME && entry.isFile()) continue;
      if (top && name === PARTD_LOCK && entry.isFile() && layout.name === 'partd') continue;
      holdsAny = true;
      // Dirent types come from lstat: a link is neither a file nor a folder here, so it is foreign.
      if (entry.isFile() && (names.writes(name, false, depth) || (iset && ISET_ASIDE.test(name)))) own.push({ path: at, folder: false });
      else if (top && (name === ISET_DIR || name === SEAL_DIR || name === TRIM_DIR || name === CONSUMER_DIR) && entry.isDirectory()) {
        visit(at, 0, escapedLayout, true);
        own.push({ path: at, folder: true });
      } else if (entry.isDirectory() && names.writes(name, true, depth)) {
        visit(at, depth + 1, names, iset);
        own.push({ path: at, folder: true });
      } else foreign.push(relative(path, at));
    }
  };
  visit(path, 0, layout, false);
  return { own, foreign: foreign.sort(), holdsAny };
}

/**
 * Why the directory at `path` is not one that file() keeps, or undefined when
 * it is: for tools that delete a store's files (`laminate drop`) and must not
 * empty a directory named by mistake. A store's directory holds only what
 * file() writes (inventory()), the lock, and the generation file (made by the
 * first write, so a store that holds any key has one). Anything else (a
 * dotfile, a name with a space in the default layout, a symlink) was put
 * there by someone else. An empty directory is a store: there is nothing to
 * lose.
 */
export function whyNotAStore(path: string, opts: { layout?: LayoutName } = {}): string | undefined {
  const stat = fs.statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 'it does not exist';
  if (!stat.isDirectory()) return 'it is not a directory';
  const { foreign, holdsAny } = inventory(path, LAYOUTS[opts.layout ?? 'escaped']);
  if (foreign.length > 0) return `it holds ${foreign[0]}, which file() does not write`;
  if (holdsAny && !fs.existsSync(join(path, GENERATION_NAME))) return `it has no ${GENERATION_NAME}, which file() writes with a store's first change`;
  return undefined;
}

/** drop()'s refusal of a directory holding what file() did not write, naming the first of those entries. */
export function foreignFilesError(path: string, foreign: readonly string[]): LaminateError {
  const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
  return new LaminateError(
    'ERR_FOREIGN_FILES',
    `Refusing to drop ${path}: it holds ${foreign.length === 1 ? 'an entry' : `${foreign.length} entries`} that file() did not write (${shown}), and drop deletes only the store's own files. Nothing was deleted. Move them out of the store's directory, or drop with file(dir).drop({ foreign: 'keep' }), which deletes the store's keys and metadata and leaves them.`,
  );
}
