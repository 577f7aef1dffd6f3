import type { Key } from '@laminate/core';
import { usageError } from './errors.js';

/**
 * Keys on the command line.
 *
 * Read: an argument that starts with `[` is a tuple key written as a JSON
 * array (`'["2024-01-01",7]'`); one that starts with `"` is a string key
 * written as a JSON string (`'"[not a tuple]"'`, `'"line\nbreak"'`); any
 * other argument is the key exactly as written.
 *
 * Printed (by `keys`): a string key as it is, unless reading it back would
 * give another key or a line could not hold it (empty, starting with `[` or
 * `"`, leading or trailing white space, any control character): then as a
 * JSON string. A tuple key is always a JSON array. So every printed line reads
 * back as the same key: `laminate keys S | while IFS= read -r k; do laminate cat S "$k"; done`.
 */
export function parseKey(text: string, command: string): Key {
  if (!text.startsWith('[') && !text.startsWith('"')) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw usageError(`The key ${text} starts with ${text[0]} but is not valid JSON (${(error as Error).message}). A tuple key is a JSON array such as '["a",1]'; a key that starts with [ or " is written as a JSON string, such as '"[a"'.`, command);
  }
  if (typeof parsed === 'string') return parsed;
  if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((part) => typeof part === 'string' || (typeof part === 'number' && Number.isFinite(part)))) return parsed as (string | number)[];
  throw usageError(`The key ${text} is neither a JSON string nor a non-empty JSON array of strings and numbers.`, command);
}

const NEEDS_JSON = /^$|^["[\s]|\s$|[\x00-\x1f\x7f\u2028\u2029]/;

export function formatKey(key: Key): string {
  if (typeof key !== 'string') return JSON.stringify(key);
  return NEEDS_JSON.test(key) ? JSON.stringify(key) : key;
}

/** The JSON form of any key, for --json output. */
export function jsonKey(key: Key): string {
  return JSON.stringify(key);
}
