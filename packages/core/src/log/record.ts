import { crc32Of } from './crc.js';

/**
 * A record in a segment: a 32-byte header, the key's UTF-8 bytes, the value.
 * Everything needed to rebuild the index is in the record itself:
 *
 *   0  u32  header checksum: CRC-32 of bytes 4..32 and of the key
 *   4  u32  value checksum: CRC-32 of the value
 *   8  u8   kind (VALUE, DELETE, DROP, ISET, SEGMENT, SEAL, MOVE, MOVE_ISET,
 *           KEY_SEAL, KEY_SEAL_AT, TRIM, CONSUMER, FORGET)
 *   9  u24  MOVE, and KEY_SEAL_AT, TRIM and CONSUMER written by compact():
 *           the segment the value or the record was moved from (else zero)
 *   12 u32  key length in bytes
 *   16 u64  value length
 *   24 u64  stamp: for DELETE, DROP and TRIM, how many commits the writer
 *           had applied, so that what was appended after it read is spared;
 *           for MOVE, the offset the value was moved from; for
 *           KEY_SEAL_AT, the length at which the key is sealed
 *
 * Two checksums, so that a read checks a value against the index's copy of
 * its checksum without reading the header again.
 */
export const RECORD_HEADER = 32;

export const enum Kind {
  VALUE = 1,
  DELETE = 2,
  DROP = 3,
  ISET = 4,
  /** The first record of every segment: JSON of who writes it ({ pid, host }), so a dead writer's torn tail can be cut. */
  SEGMENT = 5,
  /** The writer appends nothing more to this segment: compact() may move its values and remove it. */
  SEAL = 6,
  /** compact(): a key's value copied from (segment in the header, offset in the stamp) to here. */
  MOVE = 7,
  /** compact(): the same for an iset value. */
  MOVE_ISET = 8,
  /**
   * seal(key): the key's stream ends at the length the key has when this
   * record's commit is applied — every value committed before it is in the
   * stream, none committed after. The first seal committed wins.
   */
  KEY_SEAL = 9,
  /**
   * A seal at an explicit length (the stamp): written by a layer that knows
   * the length itself (buffer() over log()), and by compact() when it copies
   * a live seal out of a segment it removes (the header's `from` names that
   * segment, and the copy counts only while the key's seal is still there).
   */
  KEY_SEAL_AT = 10,
  /**
   * trim(key): the key starts at the position in the value (a u64) from now
   * on; its values wholly before it are dropped (compact() gives their space
   * back). Only bytes the trimmer could have read move the start: those of
   * values committed before its stamp.
   */
  TRIM = 11,
  /** commit(key, consumer, position): the value is the position (a u64), then the consumer's name (UTF-8). */
  CONSUMER = 12,
  /** forget(key, consumer): the value is the consumer's name. */
  FORGET = 13,
}

/** The value of a TRIM or CONSUMER record: a position (u64), then, for CONSUMER, the consumer's name. */
export function positionValue(position: number, name = ''): Buffer {
  const value = Buffer.allocUnsafe(8 + Buffer.byteLength(name, 'utf8'));
  writeU64(value, 0, position);
  value.write(name, 8, 'utf8');
  return value;
}

/** The kinds whose value the index reads when it applies them (small: a position, a name). */
export function indexReadsValue(kind: Kind): boolean {
  return kind === Kind.TRIM || kind === Kind.CONSUMER || kind === Kind.FORGET;
}

export interface RecordHead {
  kind: Kind;
  keyLength: number;
  valueLength: number;
  valueCrc: number;
  stamp: number;
  /** MOVE: the segment the value came from. */
  from: number;
}

/** Bytes of a record whose key takes `keyLength` bytes and value `valueLength`. */
export function recordSize(keyLength: number, valueLength: number): number {
  return RECORD_HEADER + keyLength + valueLength;
}

/**
 * Writes a record into `out` at `at`, the key encoded in place (`keyLength`
 * is its UTF-8 size); returns where it ends. A large value is written apart
 * (writev): then `value` is empty and `valueLength` and `valueCrc` describe
 * the real one.
 */
export function writeRecord(out: Buffer, at: number, kind: Kind, key: string, keyLength: number, value: Uint8Array, stamp: number, valueLength = value.byteLength, valueCrc = checksum(value), from = 0): number {
  // Byte stores, not writeUInt32LE and friends: their range checks were a tenth of an append of small values.
  putU32(out, at + 4, valueCrc);
  out[at + 8] = kind;
  out[at + 9] = from & 0xff;
  out[at + 10] = (from >>> 8) & 0xff;
  out[at + 11] = (from >>> 16) & 0xff;
  putU32(out, at + 12, keyLength);
  writeU64(out, at + 16, valueLength);
  writeU64(out, at + 24, stamp);
  const keyAt = at + RECORD_HEADER;
  // An ASCII key (as long in bytes as in characters) is stored a character a byte, without a call into C++.
  if (keyLength === key.length) for (let i = 0; i < keyLength; i++) out[keyAt + i] = key.charCodeAt(i);
  else if (keyLength > 0) out.write(key, keyAt, keyLength, 'utf8');
  putU32(out, at, crc32Of(out, at + 4, keyAt + keyLength));
  if (value.byteLength > 0) out.set(value, at + RECORD_HEADER + keyLength);
  return at + RECORD_HEADER + keyLength + value.byteLength;
}

/** The CRC-32 of a value (0 for an empty one). */
export function checksum(value: Uint8Array): number {
  return value.byteLength === 0 ? 0 : crc32Of(value);
}

/**
 * The header at `at` of `bytes`, which must hold the header and the key;
 * undefined when the header checksum does not match (a torn or damaged record).
 */
export function readHead(bytes: Buffer, at: number): RecordHead | undefined {
  const keyLength = bytes.readUInt32LE(at + 12);
  if (at + RECORD_HEADER + keyLength > bytes.byteLength) return undefined;
  if (crc32Of(bytes, at + 4, at + RECORD_HEADER + keyLength) !== bytes.readUInt32LE(at)) return undefined;
  return { kind: bytes[at + 8] as Kind, keyLength, valueLength: readU64(bytes, at + 16), valueCrc: bytes.readUInt32LE(at + 4), stamp: readU64(bytes, at + 24), from: bytes.readUIntLE(at + 9, 3) };
}

/** How many key bytes the header at `at` announces (before its checksum is checked). */
export function announcedKeyLength(bytes: Buffer, at: number): number {
  return bytes.readUInt32LE(at + 12);
}

/** Little-endian u32 at `at` (a typed array store keeps the low 8 bits of each). */
function putU32(out: Buffer, at: number, n: number): void {
  out[at] = n;
  out[at + 1] = n >>> 8;
  out[at + 2] = n >>> 16;
  out[at + 3] = n >>> 24;
}

/** `n` (a whole number below 2^53) as a little-endian u64. */
export function writeU64(out: Buffer, at: number, n: number): void {
  putU32(out, at, n % 2 ** 32);
  putU32(out, at + 4, Math.floor(n / 2 ** 32));
}

/** The UTF-8 size of a key: its length for ASCII, counted without a call into C++. */
export function utf8Length(key: string): number {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) >= 0x80) return Buffer.byteLength(key, 'utf8');
  return key.length;
}

export function readU64(bytes: Buffer, at: number): number {
  return bytes.readUInt32LE(at) + bytes.readUInt32LE(at + 4) * 2 ** 32;
}
