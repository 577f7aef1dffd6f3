/**
 * The fields of a request header, checked. A field of the wrong shape is a
 * protocol error (the connection closes); a key id laminate would not make is
 * an ERR_INVALID_KEY reply, so a client cannot reach keys the API refuses.
 */
import { type IdRange, type KeyId, keyFromId, keyId, typeError } from '@laminate/core/layer';
import { protocolError } from './protocol.js';

export function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw protocolError(`"${field}" must be an array of strings`);
  return value as string[];
}

/** `ranges`: [key id, offset, length or nil for "to the end"] triples. */
export function rangeList(value: unknown): IdRange[] {
  const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!Array.isArray(value)) throw protocolError('"ranges" must be an array');
  return value.map((range: unknown) => {
    if (!Array.isArray(range) || range.length !== 3 || typeof range[0] !== 'string' || !whole(range[1]) || !(range[2] === null || whole(range[2]))) {
      throw protocolError('each range must be [key id, offset, length or nil]');
    }
    return { id: checkedKeyId(range[0]), offset: range[1] as number, length: range[2] === null ? Infinity : (range[2] as number) };
  });
}

/** The `key` field: a string, its key id checked later by checkedKeyId(). */
export function keyString(value: unknown): string {
  if (typeof value !== 'string') throw protocolError('"key" must be a string');
  return value;
}

/** A key id from the wire, checked to be one keyId() makes. */
export function checkedKeyId(id: string): KeyId {
  let normal: KeyId | undefined;
  try {
    normal = keyId(keyFromId(id));
  } catch {
    normal = undefined;
  }
  if (normal !== id) throw typeError('ERR_INVALID_KEY', `Invalid key id ${JSON.stringify(id)} from the client.`);
  return id;
}

export function checkedKeyIds(keys: readonly string[]): KeyId[] {
  return keys.map(checkedKeyId);
}
