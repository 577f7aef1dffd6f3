import * as nodeZlib from 'node:zlib';

/**
 * CRC-32 (the ISO-HDLC polynomial of zlib, gzip and PNG), as zlib.crc32
 * computes it: checksum() stores it, so Python's zlib.crc32 checks the same
 * frames. node:zlib has it natively from Node 20.15 and 22.2; older Node 20
 * releases get the table-driven version below, which gives the same numbers.
 */
export const crc32: (bytes: Uint8Array) => number = typeof (nodeZlib as { crc32?: unknown }).crc32 === 'function' ? (bytes) => nodeZlib.crc32(bytes) : tableCrc32;

let table: Uint32Array | undefined;

/** The CRC-32 of `bytes`, a byte at a time: slower than zlib's, but exact. */
export function tableCrc32(bytes: Uint8Array): number {
  table ??= makeTable();
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeTable(): Uint32Array {
  const out = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    out[n] = c;
  }
  return out;
}
