import { createHash } from 'node:crypto';

/**
 * The map from key parts to file names, shared by every process that opens a
 * directory. It is reversible and collision-free, and no name it makes can
 * leave the directory or equal one of the store's own files:
 *
 * - `[A-Za-z0-9._-]` stand for themselves (so partd's plain keys keep their names);
 * - every other UTF-8 byte is `%XX` (upper-case hex), and so is a leading `.`,
 *   which leaves names starting with `.` to the store (`.laminate.lock`, `.iset/`);
 * - the empty part is `%e`;
 * - a part whose name would pass `MAX_NAME` bytes is `%h` + the SHA-256 of the
 *   part, and its text is kept beside it in `.%h<hash>`;
 * - a folder that holds the later parts of tuple keys ends with `%d`, so the
 *   key `'a'` (a file `a`) and the key `['a', 'b']` (a file `a%d/b`) coexist.
 */
export const MAX_NAME = 200;
const PLAIN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const FOLDER_MARK = '%d';

export interface EncodedName {
  name: string;
  /** For a hashed name: the part's text, to be kept in the sidecar file `sidecar`. */
  sidecar?: string;
}

export function encodePart(part: string): EncodedName {
  if (part === '') return { name: '%e' };
  if (PLAIN.test(part)) return part.length <= MAX_NAME ? { name: part } : hashed(part);
  let name = '';
  const bytes = Buffer.from(part, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2d || (b === 0x2e && i > 0);
    name += plain ? String.fromCharCode(b) : '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
    if (name.length > MAX_NAME) return hashed(part);
  }
  return { name };
}

function hashed(part: string): EncodedName {
  return { name: '%h' + createHash('sha256').update(part, 'utf8').digest('hex'), sidecar: part };
}

/** The sidecar file that holds the text of a hashed name. */
export function sidecarName(name: string): string {
  return '.' + name;
}

export function isHashed(name: string): boolean {
  return name.startsWith('%h');
}

/** True for a hashed name's sidecar: `.%h` and the SHA-256 in hex. */
export function isSidecar(name: string): boolean {
  return SIDECAR.test(name);
}
const SIDECAR = /^\.%h[0-9a-f]{64}$/;

/** The part a plain or %-escaped name stands for (hashed names are read from their sidecar). */
export function decodePart(name: string): string {
  if (name === '%e') return '';
  if (!name.includes('%')) return name;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%' && /^[0-9A-F]{2}$/.test(name.slice(i + 1, i + 3))) {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(name[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export function folderName(name: string): string {
  return name + FOLDER_MARK;
}

/** The name without its folder mark, or undefined when `name` is not a tuple folder. */
export function unfolder(name: string): string | undefined {
  return name.endsWith(FOLDER_MARK) ? name.slice(0, -FOLDER_MARK.length) : undefined;
}

/** True for names the store keeps for itself (lock, metadata, sidecars). */
export function isInternal(name: string): boolean {
  return name.startsWith('.');
}

/**
 * True when `name` is the name this map gives its part. Other names (partd
 * keeps spaces and parentheses in file names, which this map escapes) hold no
 * key that get() could reach, so keys() does not list them.
 */
export function isCanonical(name: string): boolean {
  return isHashed(name) || encodePart(decodePart(name)).name === name;
}
