import type { KeyId } from '@laminate/core/layer';

/**
 * Redis key names for a store's keys. Every name of one laminate key carries
 * the hash tag `{k<key>}`, so its bytes, its producer record and its iset value
 * share a cluster slot (one Lua script reaches them all), while different keys
 * spread over the cluster. The namespace is outside the tag on purpose: a
 * namespace in the tag would put a whole store on one master.
 *
 *   lam:<ns>:{k<key>}:d     the key's bytes (its first segment)
 *   lam:<ns>:{k<key>}:d:<i> further segments of a key longer than segmentBytes
 *   lam:<ns>:{k<key>}:m     hash: segment count, start (once trimmed), newest fencing token, each producer's last sequence
 *   lam:<ns>:{k<key>}:i     the iset value
 *   lam:<ns>:{k<key>}:s     the position at which the key was sealed
 *   lam:<ns>:{k<key>}:g     hash: each consumer's committed position (retention)
 *   lam:<ns>:{k<key>}:c     the shard channel appends and seals publish on (a channel, not a stored name)
 *   lam:<ns>:{lock}         withLock's lock
 *   lam:<ns>:{lock}:fence   its fencing counter (same slot as the lock; kept by drop)
 *
 * Both the namespace and the key are escaped to [A-Za-z0-9._~-] and %XX, so a
 * name holds no `{`, `}`, `:` or glob character of its own: the tag is exactly
 * the key, SCAN patterns match only this namespace, and a name reads back to
 * its key. The `k` keeps the tag non-empty for the empty key (an empty tag
 * would hash the whole name, scattering one key's names over slots).
 */
export function escapeName(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface KeyNames {
  data: string;
  meta: string;
  iset: string;
  seal: string;
  channel: string;
  consumers: string;
}

export class Names {
  readonly prefix: string;
  /** SCAN pattern for every name of the namespace (drop). */
  readonly all: string;
  /** SCAN pattern for the first segment of each key (keys()). */
  readonly dataPattern: string;
  readonly lock: string;
  readonly fence: string;

  constructor(namespace: string) {
    this.prefix = `lam:${escapeName(namespace)}:`;
    this.all = `${this.prefix}*`;
    this.dataPattern = `${this.prefix}{k*}:d`;
    this.lock = `${this.prefix}{lock}`;
    this.fence = `${this.prefix}{lock}:fence`;
  }

  of(id: KeyId): KeyNames {
    const base = `${this.prefix}{k${escapeName(id)}}:`;
    return { data: `${base}d`, meta: `${base}m`, iset: `${base}i`, seal: `${base}s`, channel: `${base}c`, consumers: `${base}g` };
  }

  /** The key a data name belongs to, or undefined for a name that is not one. */
  keyOf(name: string): KeyId | undefined {
    const start = this.prefix.length + 2;
    if (!name.startsWith(`${this.prefix}{k`) || !name.endsWith('}:d')) return undefined;
    try {
      return decodeURIComponent(name.slice(start, -3));
    } catch {
      return undefined;
    }
  }
}

/**
 * The cluster slot of a Redis name: CRC16 (XMODEM) of its hash tag (the text
 * between the first `{` and the next `}`, when not empty), else of the whole
 * name, modulo 16384. Used to WAIT only on the masters an append wrote to.
 */
export function hashSlot(name: string): number {
  const open = name.indexOf('{');
  const close = open < 0 ? -1 : name.indexOf('}', open + 1);
  const hashed = Buffer.from(close > open + 1 ? name.slice(open + 1, close) : name);
  let crc = 0;
  for (const byte of hashed) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
