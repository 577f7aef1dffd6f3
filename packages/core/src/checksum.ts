/**
 * checksum(inner): a CRC-32 with every appended value, checked on every read,
 * for stacks whose format carries no checksum of its own (brotli, snappy,
 * blosc, msgpack, typedArrays, arrow): a damaged value is then
 * ERR_CORRUPT_FRAME, never other bytes of the same length.
 *
 * Each value is one frame in the store below: the 8-byte length, the CRC-32
 * of the value (4 bytes, little-endian; zlib's crc32, see crc32.ts), then the
 * value. Python partd has no such layer: a stack with checksum() is read by
 * laminate, or by anything that strips the 4 bytes after checking them.
 */
import { crc32 } from './crc32.js';
import { type CompressStore, compressLayer } from './compress.js';
import { registerLayer } from './spec.js';
import type { Store, StoreSpec } from './store.js';

const CRC = 4;

function withCrc(value: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(CRC + value.byteLength);
  out.writeUInt32LE(crc32(value), 0);
  out.set(value, CRC);
  return out;
}

/** The value in a checksum() payload, or an error saying why it is not one. */
function checked(payload: Uint8Array): Uint8Array {
  if (payload.byteLength < CRC) throw new Error(`a checksum() frame holds its ${CRC}-byte CRC-32 first; this one has ${payload.byteLength} bytes`);
  const value = payload.subarray(CRC);
  const stored = new DataView(payload.buffer, payload.byteOffset, CRC).getUint32(0, true);
  const actual = crc32(value);
  if (stored !== actual) throw new Error(`CRC-32 ${hex(actual)} where ${hex(stored)} was stored: the bytes are damaged, or were not written through checksum()`);
  return value;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

export function checksum(inner: Store<Uint8Array>): CompressStore {
  const store: CompressStore = compressLayer('checksum', inner, withCrc, (payload) => {
    const value = checked(payload);
    // The value is a view of what the store below returned; dict() returns memory it keeps, so the caller gets a copy.
    return store.inner.freshGets ? value : Buffer.from(value);
  });
  return store;
}

registerLayer('checksum', { children: ['inner'], open: (spec, open) => checksum(open(spec.inner as StoreSpec)) });
