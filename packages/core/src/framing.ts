import { LaminateError } from './errors.js';
import { showKey, type KeyId } from './keys.js';

/**
 * Encoded values are stored as frames: an 8-byte little-endian unsigned length,
 * then the payload. This is partd's framing, so partd reads what we write.
 */
export const HEADER = 8;

export function frame(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(HEADER + payload.byteLength);
  out.writeUInt32LE(payload.byteLength % 0x1_0000_0000, 0);
  out.writeUInt32LE(Math.floor(payload.byteLength / 0x1_0000_0000), 4);
  out.set(payload, HEADER);
  return out;
}

/** The payload length in the header at `offset`. */
function lengthAt(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER);
  return view.getUint32(0, true) + view.getUint32(4, true) * 0x1_0000_0000;
}

/**
 * Splits whole frames off `bytes`. Returns the payloads (views, no copies) and
 * where the unread rest starts; `strict` makes a partial frame at the end an
 * ERR_CORRUPT_FRAME instead of a rest left for more bytes.
 */
export function splitFrames(bytes: Uint8Array, id: KeyId, strict: boolean, base = 0): { payloads: Uint8Array[]; rest: number } {
  const payloads: Uint8Array[] = [];
  let offset = 0;
  while (bytes.byteLength - offset >= HEADER) {
    const length = lengthAt(bytes, offset);
    if (length > bytes.byteLength - offset - HEADER) break;
    payloads.push(bytes.subarray(offset + HEADER, offset + HEADER + length));
    offset += HEADER + length;
  }
  if (strict && offset !== bytes.byteLength) throw tornFrame(bytes, id, base + offset, offset);
  return { payloads, rest: offset };
}

/** Where the last whole frame in `bytes` ends. */
export function wholeFramesEnd(bytes: Uint8Array): number {
  return splitFrames(bytes, '', false).rest;
}

function tornFrame(bytes: Uint8Array, id: KeyId, at: number, local: number): LaminateError {
  const left = bytes.byteLength - local;
  const what = left < HEADER ? `${left} bytes, too few for a frame header` : `a frame header announcing ${lengthAt(bytes, local)} bytes with only ${left - HEADER} after it`;
  return new LaminateError(
    'ERR_CORRUPT_FRAME',
    `Key ${showKey(id)} ends in a torn or corrupt frame at byte ${at}: ${what}. A writer probably died mid-append; call repair(${showKey(id)}) to cut the key back to its last whole value.`,
    { key: showKey(id), offset: at },
  );
}

/** A frame whose payload its codec cannot decode. */
export function undecodable(id: KeyId, offset: number, cause: unknown): LaminateError {
  return new LaminateError(
    'ERR_CORRUPT_FRAME',
    `Key ${showKey(id)} holds a frame at byte ${offset} that does not decode (${(cause as Error)?.message ?? cause}); it was written by another encoding or is damaged.`,
    { key: showKey(id), offset, cause },
  );
}
