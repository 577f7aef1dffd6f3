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

/** The payload length in the header at `offset` (inexact past 2^53, which no frame reaches). */
export function lengthAt(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER);
  return view.getUint32(0, true) + view.getUint32(4, true) * 0x1_0000_0000;
}
