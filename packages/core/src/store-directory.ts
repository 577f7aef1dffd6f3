import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { GENERATION_NAME, LOCK_NAME } from './directory-lock.js';
import { type KeyLayout, type LayoutName, LAYOUTS, escapedLayout } from './key-paths.js';

/** Where iset values live, under the escaped names whatever the layout: they are laminate's metadata, never partd's. */
export const ISET_DIR = '.iset';

/** A name for an iset value written aside in ISET_DIR before it is linked into place; a crash may leave one behind. */
export function isetAsideName(): string {
  return `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}
const ISET_ASIDE = /^\.tmp-\d+-[0-9a-z]*$/;

/** Python partd's lock file, which a directory shared with partd holds. */
const PARTD_LOCK = '.lock';

/**
 * Why the directory at `path` is not one that file() keeps, or undefined when
 * it is: for tools that delete a store's files (`laminate drop`) and must not
 * empty a directory named by mistake. A store's directory holds only what
 * file() writes: key files under the names its layout gives (filenames.ts:
 * tuple keys in `%d` folders, long names' `.%h` sidecars; partd-layout.ts:
 * plain names and folders, and partd's `.lock`), the lock, the generation
 * file (made by the first write, so a store that holds any key has one) and
 * iset metadata under `.iset`. Anything else (a dotfile, a name with a space
 * in the default layout, a symlink) was put there by someone else. An empty
 * directory is a store: there is nothing to lose.
 */
export function whyNotAStore(path: string, opts: { layout?: LayoutName } = {}): string | undefined {
  const stat = fs.statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 'it does not exist';
  if (!stat.isDirectory()) return 'it is not a directory';
  const layout = LAYOUTS[opts.layout ?? 'escaped'];
  let holdsAny = false;
  const stray = (dir: string, depth: number, names: KeyLayout, iset: boolean): string | undefined => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      const top = dir === path;
      if (top && name === LOCK_NAME && entry.isDirectory()) continue;
      if (top && name === GENERATION_NAME && entry.isFile()) continue;
      if (top && name === PARTD_LOCK && entry.isFile() && layout.name === 'partd') continue;
      holdsAny = true;
      let inside: string | undefined;
      if (top && name === ISET_DIR && entry.isDirectory()) inside = stray(join(dir, name), 0, escapedLayout, true);
      else if (entry.isFile() && (names.writes(name, false, depth) || (iset && ISET_ASIDE.test(name)))) continue;
      else if (entry.isDirectory() && names.writes(name, true, depth)) inside = stray(join(dir, name), depth + 1, names, iset);
      else return relative(path, join(dir, name));
      if (inside !== undefined) return inside;
    }
    return undefined;
  };
  const found = stray(path, 0, layout, false);
  if (found !== undefined) return `it holds ${found}, which file() does not write`;
  if (holdsAny && !fs.existsSync(join(path, GENERATION_NAME))) return `it has no ${GENERATION_NAME}, which file() writes with a store's first change`;
  return undefined;
}
