import { typeError } from './errors.js';

/** A key: a string, or a tuple whose parts nest (as partd's tuple keys do). */
export type Key = string | readonly (string | number)[];

/**
 * Every layer indexes its maps by a KeyId: one string per distinct key.
 * A plain string is its own id, so the common case costs nothing. A tuple of
 * two or more parts (or a string that starts with NUL) becomes NUL + JSON of
 * its parts, which no plain id can equal. A one-part tuple is the same key as
 * its only part, and numbers become their decimal text: `['a']` is `'a'`,
 * `[1, 'x']` is `['1', 'x']`, as on disk.
 *
 * A string holding a lone surrogate is refused: UTF-8 (file names, the wire)
 * cannot carry one, so `'\uD800'` would become `'\uFFFD'` and two keys
 * would share a file. Every layer refuses it, so that a key dict() takes is
 * never one that file() must refuse when buffer() spills it.
 */
export type KeyId = string;

export function keyId(key: Key): KeyId {
  if (typeof key === 'string') {
    if (!wellFormed(key)) throw invalidKey(key, 'it holds a lone UTF-16 surrogate, which no file name can keep apart from U+FFFD');
    return key.charCodeAt(0) === 0 ? '\0' + JSON.stringify([key]) : key;
  }
  if (!Array.isArray(key)) throw invalidKey(key, 'a key is a string or an array of strings and numbers');
  if (key.length === 0) throw invalidKey(key, 'a tuple key needs at least one part');
  const parts = key.map((part) => keyPart(part, key));
  if (parts.length === 1) return keyId(parts[0]);
  return '\0' + JSON.stringify(parts);
}

function keyPart(part: unknown, key: Key): string {
  if (typeof part === 'string') {
    if (!wellFormed(part)) throw invalidKey(key, 'a part holds a lone UTF-16 surrogate, which no file name can keep apart from U+FFFD');
    return part;
  }
  if (typeof part === 'number' && Number.isFinite(part)) return String(part);
  throw invalidKey(key, 'each part of a tuple key must be a string or a finite number');
}

/** String.prototype.isWellFormed (Node 20+; newer than the ES2023 typings). */
function wellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** The parts of a key: one for a plain key, several for a tuple. */
export function keyParts(id: KeyId): string[] {
  return id.charCodeAt(0) === 0 ? (JSON.parse(id.slice(1)) as string[]) : [id];
}

/** The key a user sees for an id: a string for one part, an array for more. */
export function keyFromId(id: KeyId): Key {
  const parts = keyParts(id);
  return parts.length === 1 ? parts[0] : parts;
}

export function keyFromParts(parts: readonly string[]): KeyId {
  return keyId(parts.length === 1 ? parts[0] : parts);
}

/** A readable form of a key for error messages. */
export function showKey(key: Key | KeyId): string {
  if (typeof key === 'string') return key.charCodeAt(0) === 0 ? JSON.stringify(keyParts(key)) : JSON.stringify(key);
  try {
    return JSON.stringify(key);
  } catch {
    return String(key);
  }
}

function invalidKey(key: unknown, why: string) {
  let shown: string;
  try {
    shown = JSON.stringify(key) ?? String(key);
  } catch {
    shown = String(key);
  }
  return typeError('ERR_INVALID_KEY', `Invalid key ${shown}: ${why}.`);
}
