import * as fs from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { LaminateError, typeError } from './errors.js';
import type { KeyLayout } from './key-paths.js';
import { type KeyId, keyFromParts, showKey } from './keys.js';

/**
 * file(dir, { layout: 'partd' }): keys named as Python partd names them
 * (partd/file.py: `os.path.join(path, escape_filename(token(key)))`), so that
 * tuple keys are shared with partd too: a part is its own file name, and the
 * parts of a tuple nest as plain folders, ('a', 'b') → a/b.
 *
 * partd writes a part as it is, after silently dropping every character but
 * letters, digits, `-_.() ` and `/`. Here a part must need no such dropping
 * (else partd would look for the key under another name) and must be a safe
 * file name, or the key is refused with ERR_INVALID_KEY:
 * - only `A-Z a-z 0-9 . _ - ( )` and space;
 * - not empty, not `.` or `..`, at most 255 bytes, no `/` (a tuple is written
 *   as a tuple);
 * - the first part does not start with `.`: names starting with `.` at the top
 *   of the directory are the store's own (`.laminate.lock`, `.laminate.gen`,
 *   `.iset`, partd's `.lock`). Deeper parts may (PandasColumns writes
 *   ('x', '.columns')).
 * So every key stays inside the directory, and the map is reversible.
 *
 * A name is either a key's file or the folder of longer tuple keys, as in
 * partd: the key 'a' and the key ['a', 'b'] cannot coexist. A new key that
 * would need a name the other kind holds is refused (checkNew) before its call
 * writes anything; reading or deleting such a key finds nothing.
 */
const PART = /^[A-Za-z0-9._() -]+$/;
const PART_CHAR = /[A-Za-z0-9._() -]/u;
const MAX_NAME_BYTES = 255;

const ELSEWHERE = "or use file() without layout: 'partd', whose escaped names hold any key";

/** Why a part cannot be a name in this layout, `depth` folders below the store's directory; undefined when it can. */
function whyNot(part: string, depth: number): string | undefined {
  if (part === '') return `a part is empty, and an empty name is no file; give every part at least one character, ${ELSEWHERE}`;
  if (part === '.' || part === '..') return `a part is "${part}", which names a folder, not a file; rename that part, ${ELSEWHERE}`;
  if (part.includes('/')) return `the part ${JSON.stringify(part)} holds "/", which separates the parts of a tuple key there; write the key as a tuple (["a", "b"], not "a/b"), ${ELSEWHERE}`;
  if (!PART.test(part)) {
    const char = [...part].find((c) => !PART_CHAR.test(c))!;
    return `the part ${JSON.stringify(part)} holds ${JSON.stringify(char)}, which partd drops from file names (it would look for the key under another name); use only A-Z a-z 0-9 . _ - ( ) and space, ${ELSEWHERE}`;
  }
  if (part.length > MAX_NAME_BYTES) return `a part is ${part.length} characters long, and a file name holds at most ${MAX_NAME_BYTES}; shorten it, ${ELSEWHERE}`;
  if (depth === 0 && part.startsWith('.')) return `its first part starts with ".", and such names at the top of the directory are the store's own (.laminate.lock, .laminate.gen, .iset, partd's .lock); rename it, ${ELSEWHERE}`;
  return undefined;
}

export const partdLayout: KeyLayout = {
  name: 'partd',
  encode: (parts, id) =>
    parts.map((part, depth) => {
      const why = whyNot(part, depth);
      if (why !== undefined) throw typeError('ERR_INVALID_KEY', `Key ${showKey(id)} cannot be stored in file()'s partd layout: ${why}.`, { key: showKey(id) });
      return { name: part };
    }),
  folder: (name) => name,
  partOf: (_dir, name, _folder, depth) => (whyNot(name, depth) === undefined ? name : undefined),
  writes: (name, _folder, depth) => whyNot(name, depth) === undefined,
  bareFolders: true,
  checkNew,
  remove,
};

const COEXIST = 'partd nests the parts of a tuple key as folders, so a key and a longer tuple key starting with it cannot coexist';

function clash(id: KeyId, why: string, todo: string): LaminateError {
  return new LaminateError('ERR_INVALID_KEY', `Key ${showKey(id)} cannot be stored in file()'s partd layout: ${why} (${COEXIST}). ${todo}; or use file() without layout: 'partd', where both can be stored.`, { key: showKey(id) });
}

function checkNew(root: string, files: ReadonlyMap<string, KeyId>): void {
  // Within the call: a key whose file would be the folder of another new key.
  const folders = new Map<string, KeyId>();
  for (const [path, id] of files) for (let dir = dirname(path); dir.length > root.length; dir = dirname(dir)) folders.set(dir, id);
  for (const [path, id] of files) {
    const longer = folders.get(path);
    if (longer !== undefined) throw clash(id, `this call also appends to the key ${showKey(longer)}, which needs "${relative(root, path)}" as a folder`, 'Append only one of them');
  }
  // On disk: the key's file or one of its folders taken by the other kind.
  for (const [path, id] of files) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(path, { throwIfNoEntry: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
      const blocker = fileOnTheWay(root, path);
      throw clash(id, `"${relative(root, blocker)}" there is not a folder but the file of the key ${showKey(keyFromParts(relative(root, blocker).split(sep)))}`, 'Delete that key first or choose another key');
    }
    if (stat?.isDirectory()) {
      if (fs.readdirSync(path).length === 0) {
        throw clash(id, `"${relative(root, path)}" there is an empty folder (partd leaves the folders of the tuple keys it deletes)`, 'Remove that empty folder or choose another key');
      }
      throw clash(id, `"${relative(root, path)}" there is the folder of tuple keys that start with ${showKey(id)}`, 'Delete those tuple keys first or choose another key');
    }
  }
}

/** The first of `path`'s folders, from the top, that is not a folder. */
function fileOnTheWay(root: string, path: string): string {
  let dir = root;
  for (const name of relative(root, dirname(path)).split(sep)) {
    dir = join(dir, name);
    if (!fs.lstatSync(dir).isDirectory()) return dir;
  }
  return dirname(path);
}

function remove(root: string, path: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw error;
  }
  // Nothing there, or the folder of longer tuple keys: this key holds nothing.
  if (stat === undefined || stat.isDirectory()) return;
  fs.unlinkSync(path);
  // partd never removes folders; a folder left empty here would keep refusing the key of its name.
  for (let dir = dirname(path); dir.length > root.length; dir = dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      break; // not empty (or gone): the folders above are not empty either
    }
  }
}
