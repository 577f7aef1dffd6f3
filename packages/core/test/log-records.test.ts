/**
 * log()'s record framing, byte by byte: the 32-byte header as the layout in
 * record.ts describes it, the two checksums, the 64-bit lengths and stamps,
 * the 24-bit segment of a MOVE, and what readHead() refuses (a header whose
 * checksum does not match, a key the buffer does not hold whole).
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Kind, RECORD_HEADER, announcedKeyLength, checksum, indexReadsValue, positionValue, readHead, readU64, recordSize, writeRecord, writeU64 } from '../src/log/record.js';

const FILL = 0xee;

/** A buffer of `size` bytes that are all FILL, so a write past its place shows. */
function filled(size: number): Buffer {
  return Buffer.alloc(size, FILL);
}

describe('log() records: the header layout', () => {
  it('puts each field where the layout says, the key after the header and the value after the key', () => {
    const key = 'kéy';
    const keyLength = Buffer.byteLength(key, 'utf8');
    const value = Buffer.from('the value');
    const at = 7;
    const out = filled(at + recordSize(keyLength, value.byteLength) + 5);
    const stamp = 2 ** 40 + 3;
    const end = writeRecord(out, at, Kind.MOVE, key, keyLength, value, stamp, value.byteLength, checksum(value), 0x123456);

    expect(end).toBe(at + RECORD_HEADER + keyLength + value.byteLength);
    expect(recordSize(keyLength, value.byteLength)).toBe(RECORD_HEADER + keyLength + value.byteLength);
    // Nothing before the record or after its end is touched.
    expect([...out.subarray(0, at)]).toEqual(new Array(at).fill(FILL));
    expect([...out.subarray(end)]).toEqual(new Array(out.byteLength - end).fill(FILL));

    expect(out.readUInt32LE(at + 4)).toBe(crc32(value));
    expect(out[at + 8]).toBe(Kind.MOVE);
    expect([out[at + 9], out[at + 10], out[at + 11]]).toEqual([0x56, 0x34, 0x12]);
    expect(out.readUInt32LE(at + 12)).toBe(keyLength);
    expect(out.readUInt32LE(at + 16)).toBe(value.byteLength);
    expect(out.readUInt32LE(at + 20)).toBe(0);
    expect(out.readUInt32LE(at + 24)).toBe(3);
    expect(out.readUInt32LE(at + 28)).toBe(2 ** 8);
    expect(out.toString('utf8', at + RECORD_HEADER, at + RECORD_HEADER + keyLength)).toBe(key);
    expect(Buffer.from(out.subarray(at + RECORD_HEADER + keyLength, end))).toEqual(value);
    // The header checksum covers bytes 4..32 of the header and the key, not the value.
    expect(out.readUInt32LE(at)).toBe(crc32(out.subarray(at + 4, at + RECORD_HEADER + keyLength)));
    expect(announcedKeyLength(out, at)).toBe(keyLength);
  });

  it('reads back every field it wrote, for each kind, at any offset', () => {
    const cases: [Kind, string, Buffer, number, number][] = [
      [Kind.VALUE, 'a', Buffer.from('x'), 0, 0],
      [Kind.DELETE, 'deleted', Buffer.alloc(0), 17, 0],
      [Kind.DROP, '', Buffer.alloc(0), 2 ** 33 + 1, 0],
      [Kind.ISET, 'meta', Buffer.from('{"a":1}'), 0, 0],
      [Kind.SEGMENT, '', Buffer.from('{"pid":1}'), 0, 0],
      [Kind.SEAL, '', Buffer.alloc(0), 0, 0],
      [Kind.MOVE, '\0["a","b"]', Buffer.alloc(300, 7), 2 ** 52 + 5, 0xabcdef],
      [Kind.MOVE_ISET, 'ключ', Buffer.from('v'), 12_345, 1],
    ];
    for (const [kind, key, value, stamp, from] of cases) {
      const keyLength = Buffer.byteLength(key, 'utf8');
      const at = 3;
      const out = filled(at + recordSize(keyLength, value.byteLength));
      writeRecord(out, at, kind, key, keyLength, value, stamp, value.byteLength, checksum(value), from);
      expect(readHead(out, at)).toEqual({ kind, keyLength, valueLength: value.byteLength, valueCrc: checksum(value), stamp, from });
    }
  });

  it('takes the checksum and the segment of the value from its arguments when the value is written apart', () => {
    const value = Buffer.alloc(1000, 1);
    const out = filled(RECORD_HEADER + 1);
    // Defaults: the value's own length and checksum, from segment 0.
    const defaults = filled(RECORD_HEADER + 1 + 2);
    writeRecord(defaults, 0, Kind.VALUE, 'k', 1, Buffer.from('ab'), 9);
    expect(readHead(defaults, 0)).toEqual({ kind: Kind.VALUE, keyLength: 1, valueLength: 2, valueCrc: crc32(Buffer.from('ab')), stamp: 9, from: 0 });

    const end = writeRecord(out, 0, Kind.VALUE, 'k', 1, new Uint8Array(0), 0, 2 ** 35 + value.byteLength, checksum(value));
    expect(end).toBe(RECORD_HEADER + 1);
    expect(readHead(out, 0)).toEqual({ kind: Kind.VALUE, keyLength: 1, valueLength: 2 ** 35 + 1000, valueCrc: crc32(value), stamp: 0, from: 0 });
  });

  it('keeps the stamp and the value length exact up to 2^53 - 1', () => {
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 48 + 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      const out = filled(12);
      writeU64(out, 2, n);
      expect(readU64(out, 2)).toBe(n);
      expect(out.readUInt32LE(2)).toBe(n % 2 ** 32);
      expect(out.readUInt32LE(6)).toBe(Math.floor(n / 2 ** 32));
      expect([out[0], out[1], out[10], out[11]]).toEqual([FILL, FILL, FILL, FILL]);
    }
  });
});

describe('log() records: the value of a trim or a consumer\'s commit', () => {
  it('is a u64 position, then the consumer\'s name in UTF-8', () => {
    expect(positionValue(2 ** 40 + 5)).toEqual(Buffer.from([5, 0, 0, 0, 0, 1, 0, 0]));
    const named = positionValue(7, 'lecté');
    expect(named.byteLength).toBe(8 + 6);
    expect(readU64(named, 0)).toBe(7);
    expect(named.toString('utf8', 8)).toBe('lecté');
  });
});

describe('log() records: kinds', () => {
  it('keep the numbers they are written with, which files on disk already hold', () => {
    expect([Kind.VALUE, Kind.DELETE, Kind.DROP, Kind.ISET, Kind.SEGMENT, Kind.SEAL, Kind.MOVE, Kind.MOVE_ISET, Kind.KEY_SEAL, Kind.KEY_SEAL_AT, Kind.TRIM, Kind.CONSUMER, Kind.FORGET]).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    ]);
  });

  it('the index reads the value of a trim, a consumer\'s commit and a forget only', () => {
    const read = [Kind.VALUE, Kind.DELETE, Kind.DROP, Kind.ISET, Kind.SEGMENT, Kind.SEAL, Kind.MOVE, Kind.MOVE_ISET, Kind.KEY_SEAL, Kind.KEY_SEAL_AT, Kind.TRIM, Kind.CONSUMER, Kind.FORGET].filter(indexReadsValue);
    expect(read).toEqual([Kind.TRIM, Kind.CONSUMER, Kind.FORGET]);
  });
});

describe('log() records: checksums', () => {
  it('gives 0 for an empty value and zlib\'s CRC-32 for any other', () => {
    expect(checksum(new Uint8Array(0))).toBe(0);
    expect(checksum(Buffer.from([0]))).toBe(crc32(Buffer.from([0])));
    expect(checksum(Buffer.from([0]))).not.toBe(0);
    const long = Buffer.alloc(5000, 0x5a);
    expect(checksum(long)).toBe(crc32(long));
  });

  it('refuses a header with any byte of the header or key changed, and still reads one whose value changed', () => {
    const key = 'a key';
    const value = Buffer.from('some value');
    const out = filled(recordSize(key.length, value.byteLength));
    writeRecord(out, 0, Kind.VALUE, key, key.length, value, 42);
    const good = readHead(out, 0);
    expect(good).toBeDefined();
    for (let i = 0; i < RECORD_HEADER + key.length; i++) {
      // Byte 12 is the key length: changed, the key runs past the buffer or ends early, and either way the check fails.
      const damaged = Buffer.from(out);
      damaged[i] ^= 0x01;
      expect(readHead(damaged, 0), `byte ${i}`).toBeUndefined();
    }
    const valueDamaged = Buffer.from(out);
    valueDamaged[RECORD_HEADER + key.length] ^= 0x01;
    const head = readHead(valueDamaged, 0)!;
    expect(head).toEqual(good);
    // The value is checked on its own, against the header's copy of its checksum.
    expect(checksum(valueDamaged.subarray(RECORD_HEADER + key.length))).not.toBe(head.valueCrc);
  });

  it('reads a header whose buffer ends right after the key, and refuses one whose key is cut short', () => {
    const key = 'twelve bytes';
    const out = filled(recordSize(key.length, 4));
    writeRecord(out, 0, Kind.VALUE, key, key.length, Buffer.from('abcd'), 1);
    // The header and the key, nothing of the value: enough for readHead.
    expect(readHead(out.subarray(0, RECORD_HEADER + key.length), 0)?.keyLength).toBe(key.length);
    expect(readHead(out.subarray(0, RECORD_HEADER + key.length - 1), 0)).toBeUndefined();
    // The same at an offset inside a larger buffer.
    const shifted = Buffer.concat([Buffer.alloc(5), out.subarray(0, RECORD_HEADER + key.length)]);
    expect(readHead(shifted, 5)?.valueLength).toBe(4);
    expect(readHead(shifted.subarray(0, shifted.byteLength - 1), 5)).toBeUndefined();
  });

  it('refuses a key cut short even when the bytes missing would have been zeros', () => {
    // A key of NUL bytes: reading past the buffer as zeros would give the same checksum.
    const key = '\0\0\0\0';
    const out = filled(recordSize(4, 0));
    writeRecord(out, 0, Kind.VALUE, key, 4, new Uint8Array(0), 0);
    expect(readHead(out, 0)?.keyLength).toBe(4);
    for (const cut of [1, 2, 4]) expect(readHead(out.subarray(0, out.byteLength - cut), 0), `${cut} bytes short`).toBeUndefined();
    const shifted = Buffer.concat([Buffer.alloc(40), out]);
    expect(readHead(shifted.subarray(0, shifted.byteLength - 1), 40)).toBeUndefined();
  });

  it('refuses a header whose announced key length runs past the buffer, whatever its checksum says', () => {
    const out = filled(RECORD_HEADER);
    writeRecord(out, 0, Kind.SEAL, '', 0, new Uint8Array(0), 0);
    expect(readHead(out, 0)).toEqual({ kind: Kind.SEAL, keyLength: 0, valueLength: 0, valueCrc: 0, stamp: 0, from: 0 });
    out.writeUInt32LE(1, 12);
    expect(announcedKeyLength(out, 0)).toBe(1);
    expect(readHead(out, 0)).toBeUndefined();
  });
});
