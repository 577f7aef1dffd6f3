/**
 * `store.keys({ prefix, signal })`: the keys, as a promise of an array (what
 * keys() always returned) that is also an async iterator, as abstract-level's
 * users expect of a listing. The store lists its keys once; the prefix is
 * applied to the list, and the signal is checked before the listing and
 * between the keys an iterator yields.
 */
import { typeError } from './errors.js';
import { throwIfAborted } from './follow.js';
import { type Key, type KeyId, keyFromId, keyParts } from './keys.js';

export interface KeysOptions {
  /**
   * Only keys that start with this: a string matches the keys whose first
   * part starts with it ('2024-' matches '2024-01' and ['2024-01', 7]); a
   * tuple matches the keys whose leading parts equal its parts, the last of
   * them by prefix (['day', '1'] matches ['day', '17', 'x']).
   */
  prefix?: Key;
  /** Ends the listing with ERR_ABORTED. */
  signal?: AbortSignal;
}

/** A promise of the keys that is also an AsyncIterable of them. */
export type KeyListing = Promise<Key[]> & AsyncIterable<Key>;

export function listKeys(list: () => Promise<KeyId[]>, opts: KeysOptions | undefined): KeyListing {
  const listed = listMatching(list, opts);
  return Object.assign(listed, {
    async *[Symbol.asyncIterator](): AsyncIterator<Key> {
      for (const key of await listed) {
        throwIfAborted(opts?.signal);
        yield key;
      }
    },
  });
}

/** The keys that match, or the call's error: a bad option rejects, as a closed store does. */
async function listMatching(list: () => Promise<KeyId[]>, opts: KeysOptions | undefined): Promise<Key[]> {
  const { prefix, signal } = opts ?? {};
  if (prefix !== undefined && typeof prefix !== 'string' && !(Array.isArray(prefix) && prefix.length > 0 && prefix.every((part) => typeof part === 'string' || (typeof part === 'number' && Number.isFinite(part))))) {
    throw typeError('ERR_INVALID_OPTION', 'keys(): prefix must be a string or a tuple of strings and numbers, such as "2024-" or ["day", 7].');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('ERR_INVALID_OPTION', 'keys(): signal must be an AbortSignal (from an AbortController).');
  const wanted = prefix === undefined ? undefined : (typeof prefix === 'string' ? [prefix] : prefix.map(String));
  const matches = (id: KeyId): boolean => {
    if (wanted === undefined) return true;
    const parts = keyParts(id);
    if (parts.length < wanted.length) return false;
    const last = wanted.length - 1;
    for (let i = 0; i < last; i++) if (parts[i] !== wanted[i]) return false;
    return parts[last].startsWith(wanted[last]);
  };
  throwIfAborted(signal);
  const ids = await list();
  throwIfAborted(signal);
  return ids.filter(matches).map(keyFromId);
}
