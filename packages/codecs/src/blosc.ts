/**
 * blosc(inner, { level, shuffle, typesize, cname }): each appended value is
 * one Blosc (version 1 library, format 2) buffer inside partd's 8-byte length
 * frames — what partd.Blosc writes with python-blosc's blosc.compress — so
 * either side reads the other's directory.
 *
 * The Blosc container is written and read here, in TypeScript; the codecs
 * inside it are the native ones the stack already has (lz4-napi, zstd-napi,
 * node:zlib, snappy), plus a decoder for BloscLZ, the codec python-blosc uses
 * by default. So reading covers every codec python-blosc writes (blosclz,
 * lz4, lz4hc, snappy, zlib, zstd), with or without the byte shuffle; writing
 * offers lz4, zstd, zlib and snappy. The bit shuffle is not supported.
 *
 * The buffer layout (c-blosc's README_HEADER): a 16-byte header — version 2,
 * codec version 1, flags, typesize, then int32 LE nbytes, blocksize, cbytes —
 * then one int32 start offset per block, then each block as int32-length
 * prefixed streams (one per byte of the type when the block is split). A
 * stream whose length equals its uncompressed size is stored raw.
 */
import * as nodeZlib from 'node:zlib';
import { type Store, type StoreSpec, type CompressStore } from '@laminate/core';
import { registerLayer, asBuffer, compressLayer, wholeOption, typeError } from '@laminate/core/layer';
import * as lz4napi from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { Compressor as ZstdCompressor, decompress as zstdDecompress } from 'zstd-napi';

const HEADER = 16;
const VERSION = 2;
const DOSHUFFLE = 0x1;
const MEMCPYED = 0x2;
const DOBITSHUFFLE = 0x4;
const RESERVED = 0x8;
const DONT_SPLIT = 0x10;
const MIN_BUFFERSIZE = 128;
const MAX_SPLITS = 16;
const MAX_NBYTES = 2 ** 31 - 1 - HEADER;

/** Blosc's codec numbers in the flags' top three bits. */
const FORMAT = { blosclz: 0, lz4: 1, snappy: 2, zlib: 3, zstd: 4 } as const;
const FORMAT_NAME = ['blosclz', 'lz4', 'snappy', 'zlib', 'zstd'];

export type BloscCodecName = 'lz4' | 'zstd' | 'zlib' | 'snappy';
const CNAMES: readonly BloscCodecName[] = ['lz4', 'zstd', 'zlib', 'snappy'];

export interface BloscOptions {
  /** 0 (store raw) to 9; default 5. */
  level?: number;
  /** 1 (Blosc's SHUFFLE, the default: bytes of equal significance are grouped) or 0 (none). */
  shuffle?: number;
  /** Bytes per element for the shuffle, 1–255; default 8 (float64, int64), as python-blosc. */
  typesize?: number;
  /** The codec inside the Blosc buffer: lz4 (default), zstd, zlib or snappy. */
  cname?: BloscCodecName;
}

// ---------------------------------------------------------------- shuffle

function shuffle(typesize: number, src: Uint8Array, dest: Uint8Array): void {
  const n = Math.floor(src.length / typesize);
  for (let j = 0; j < typesize; j++) {
    const base = j * n;
    for (let i = 0, k = j; i < n; i++, k += typesize) dest[base + i] = src[k];
  }
  const tail = n * typesize;
  dest.set(src.subarray(tail), tail);
}

function unshuffle(typesize: number, src: Uint8Array, dest: Uint8Array): void {
  const n = Math.floor(src.length / typesize);
  for (let j = 0; j < typesize; j++) {
    const base = j * n;
    for (let i = 0, k = j; i < n; i++, k += typesize) dest[k] = src[base + i];
  }
  const tail = n * typesize;
  dest.set(src.subarray(tail), tail);
}

// ---------------------------------------------------------------- BloscLZ

const MAX_DISTANCE = 8191;

/** BloscLZ decoding (c-blosc's blosclz_decompress); returns the bytes written, or -1 on a bad stream. */
function blosclzDecode(input: Uint8Array, out: Uint8Array): number {
  const ipLimit = input.length;
  const opLimit = out.length;
  if (ipLimit === 0) return -1;
  let ip = 0;
  let op = 0;
  let ctrl = input[ip++] & 31;
  for (;;) {
    if (ctrl >= 32) {
      let len = (ctrl >> 5) - 1;
      let ofs = (ctrl & 31) << 8;
      let code: number;
      if (len === 6) {
        do {
          if (ip + 1 >= ipLimit) return -1;
          code = input[ip++];
          len += code;
        } while (code === 255);
      } else if (ip + 1 >= ipLimit) return -1;
      code = input[ip++];
      len += 3;
      let ref = op - ofs - code;
      if (code === 255 && ofs === 31 << 8) {
        if (ip + 1 >= ipLimit) return -1;
        ofs = (input[ip] << 8) + input[ip + 1];
        ip += 2;
        ref = op - ofs - MAX_DISTANCE;
      }
      if (op + len > opLimit || ref - 1 < 0) return -1;
      if (ip >= ipLimit) break;
      ctrl = input[ip++];
      ref--;
      if (ref === op - 1) {
        out.fill(out[ref], op, op + len);
        op += len;
      } else if (op - ref >= len) {
        out.copyWithin(op, ref, ref + len);
        op += len;
      } else {
        for (let end = op + len; op < end; ) out[op++] = out[ref++];
      }
    } else {
      ctrl++;
      if (op + ctrl > opLimit || ip + ctrl > ipLimit) return -1;
      out.set(input.subarray(ip, ip + ctrl), op);
      op += ctrl;
      ip += ctrl;
      if (ip >= ipLimit) break;
      ctrl = input[ip++];
    }
  }
  return op;
}

// ---------------------------------------------------------------- codecs inside the container

type StreamDecoder = (src: Uint8Array, dest: Uint8Array) => number;

function copyInto(bytes: Uint8Array, dest: Uint8Array): number {
  if (bytes.length !== dest.length) return -1;
  dest.set(bytes);
  return bytes.length;
}

const DECODERS: Record<number, StreamDecoder> = {
  0: blosclzDecode,
  1: (src, dest) => {
    // lz4-napi reads a block behind its 4-byte little-endian size.
    const sized = Buffer.allocUnsafe(src.length + 4);
    sized.writeUInt32LE(dest.length, 0);
    sized.set(src, 4);
    return copyInto(lz4napi.uncompressSync(sized), dest);
  },
  2: (src, dest) => copyInto(snappyUncompress(asBuffer(src), { asBuffer: true }) as Buffer, dest),
  3: (src, dest) => copyInto(nodeZlib.inflateSync(src), dest),
  4: (src, dest) => copyInto(zstdDecompress(src), dest),
};

type StreamEncoder = (src: Uint8Array) => Uint8Array;

function encoderFor(cname: BloscCodecName, level: number): StreamEncoder {
  switch (cname) {
    case 'lz4':
      return (src) => lz4napi.compressSync(asBuffer(src)).subarray(4);
    case 'snappy':
      return (src) => snappyCompress(asBuffer(src));
    case 'zlib':
      return (src) => nodeZlib.deflateSync(src, { level });
    case 'zstd': {
      // c-blosc's mapping of its levels onto zstd's, with 9 held at 19 (22 is far too slow for a store).
      const compressor = new ZstdCompressor();
      compressor.setParameters({ compressionLevel: level < 9 ? level * 2 - 1 : 19 });
      return (src) => compressor.compress(src);
    }
  }
}

// ---------------------------------------------------------------- the container

interface EncodeSettings {
  level: number;
  shuffle: boolean;
  typesize: number;
  format: number;
  encode: StreamEncoder;
  /** High-ratio codecs get larger blocks, as in c-blosc. */
  hcr: boolean;
}

function writeHeader(out: Buffer, flags: number, typesize: number, nbytes: number, blocksize: number, cbytes: number): void {
  out[0] = VERSION;
  out[1] = 1;
  out[2] = flags;
  out[3] = typesize;
  out.writeInt32LE(nbytes, 4);
  out.writeInt32LE(blocksize, 8);
  out.writeInt32LE(cbytes, 12);
}

function memcpyed(src: Uint8Array, flags: number, typesize: number, blocksize: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER + src.length);
  writeHeader(out, (flags | MEMCPYED) & ~(DOSHUFFLE | DOBITSHUFFLE), typesize, src.length, blocksize, out.length);
  out.set(src, HEADER);
  return out;
}

function bloscEncode(src: Uint8Array, s: EncodeSettings): Buffer {
  const nbytes = src.length;
  if (nbytes > MAX_NBYTES) throw new RangeError(`blosc() stores values of at most ${MAX_NBYTES} bytes (a Blosc 1 buffer's limit); got ${nbytes}.`);
  const typesize = s.typesize;
  let blocksize = Math.min(nbytes, (s.hcr ? 256 : 128) << 10);
  if (blocksize > typesize) blocksize -= blocksize % typesize;
  blocksize = Math.max(blocksize, 1);
  const flags = (s.shuffle ? DOSHUFFLE : 0) | DONT_SPLIT | (s.format << 5);
  if (s.level === 0 || nbytes < MIN_BUFFERSIZE) return memcpyed(src, flags, typesize, blocksize);

  const nblocks = Math.ceil(nbytes / blocksize);
  const parts: Uint8Array[] = [];
  const head = Buffer.alloc(HEADER + 4 * nblocks);
  parts.push(head);
  let offset = head.length;
  const scratch = s.shuffle && typesize > 1 ? Buffer.allocUnsafe(blocksize) : undefined;
  for (let j = 0; j < nblocks; j++) {
    let block = src.subarray(j * blocksize, Math.min(nbytes, (j + 1) * blocksize));
    if (scratch) {
      const view = scratch.subarray(0, block.length);
      shuffle(typesize, block, view);
      block = view;
    }
    let packed = s.encode(block);
    // A stream as long as its input is read as stored raw, so anything not smaller is stored raw.
    if (packed.length >= block.length) packed = Buffer.from(block);
    else if (packed.buffer === scratch?.buffer) packed = Buffer.from(packed);
    head.writeInt32LE(offset, HEADER + 4 * j);
    const size = Buffer.allocUnsafe(4);
    size.writeInt32LE(packed.length, 0);
    parts.push(size, packed);
    offset += 4 + packed.length;
    if (offset > nbytes + HEADER) return memcpyed(src, flags, typesize, blocksize);
  }
  writeHeader(head, flags, typesize, nbytes, blocksize, offset);
  return Buffer.concat(parts, offset);
}

function bloscDecode(src: Uint8Array): Buffer {
  if (src.length < HEADER) throw new Error(`a Blosc buffer has a ${HEADER}-byte header; this one has ${src.length} bytes`);
  const view = asBuffer(src);
  const version = view[0];
  const flags = view[2];
  const typesize = view[3];
  const nbytes = view.readInt32LE(4);
  const blocksize = view.readInt32LE(8);
  const cbytes = view.readInt32LE(12);
  if (version < 1 || version > VERSION) throw new Error(`Blosc format version ${version} is not one this layer reads (1–${VERSION})`);
  if (cbytes !== view.length) throw new Error(`the Blosc header says ${cbytes} bytes, the frame holds ${view.length}`);
  if (nbytes === 0) return Buffer.alloc(0);
  if (nbytes < 0 || blocksize <= 0 || typesize === 0 || flags & RESERVED) throw new Error('the Blosc header is damaged');
  if (flags & MEMCPYED) {
    if (nbytes + HEADER !== cbytes) throw new Error('the Blosc header is damaged (a stored buffer of the wrong size)');
    return Buffer.from(view.subarray(HEADER));
  }
  if (flags & DOBITSHUFFLE && blocksize >= typesize) throw new Error('Blosc buffers written with the bit shuffle are not supported; write them with shuffle=SHUFFLE or NOSHUFFLE');
  const format = flags >> 5;
  const decode = DECODERS[format];
  if (!decode) throw new Error(`unknown Blosc codec number ${format}`);
  const doshuffle = (flags & DOSHUFFLE) !== 0 && typesize > 1;
  const dontSplit = (flags & DONT_SPLIT) !== 0;
  const nblocks = Math.ceil(nbytes / blocksize);
  if (nblocks > (cbytes - HEADER) / 4) throw new Error('the Blosc header is damaged (too many blocks for the buffer)');
  const out = Buffer.allocUnsafe(nbytes);
  const scratch = doshuffle ? Buffer.allocUnsafe(blocksize) : undefined;
  for (let j = 0; j < nblocks; j++) {
    const start = j * blocksize;
    const bsize = Math.min(blocksize, nbytes - start);
    const leftover = bsize < blocksize;
    const nsplits = !dontSplit && typesize <= MAX_SPLITS && bsize / typesize >= MIN_BUFFERSIZE && !leftover ? typesize : 1;
    const neblock = Math.floor(bsize / nsplits);
    const target = scratch ? scratch.subarray(0, bsize) : out.subarray(start, start + bsize);
    let offset = view.readInt32LE(HEADER + 4 * j);
    for (let k = 0; k < nsplits; k++) {
      if (offset < HEADER || offset > cbytes - 4) throw new Error(`block ${j} of the Blosc buffer starts outside it`);
      const size = view.readInt32LE(offset);
      offset += 4;
      if (size < 0 || size > cbytes - offset) throw new Error(`block ${j} of the Blosc buffer runs past its end`);
      const stream = view.subarray(offset, offset + size);
      const dest = target.subarray(k * neblock, (k + 1) * neblock);
      if (size === neblock) dest.set(stream);
      else if (decode(stream, dest) !== neblock) throw new Error(`block ${j} of the Blosc buffer does not decode (${FORMAT_NAME[format]})`);
      offset += size;
    }
    if (scratch) unshuffle(typesize, target, out.subarray(start, start + bsize));
  }
  return out;
}

// ---------------------------------------------------------------- the layer

export function blosc(inner: Store<Uint8Array>, opts: BloscOptions = {}): CompressStore {
  const level = wholeOption('blosc', 'level', opts.level, 0, 9);
  const shuffleOpt = wholeOption('blosc', 'shuffle', opts.shuffle, 0, 1);
  const typesize = wholeOption('blosc', 'typesize', opts.typesize, 1, 255);
  if (opts.cname !== undefined && !CNAMES.includes(opts.cname)) {
    throw typeError('ERR_INVALID_OPTION', `blosc(): cname must be one of ${CNAMES.join(', ')}; got ${String(opts.cname)}. (Reading also covers blosclz and lz4hc buffers written by python-blosc.)`);
  }
  const cname = opts.cname ?? 'lz4';
  const settings: EncodeSettings = {
    level: level ?? 5,
    shuffle: (shuffleOpt ?? 1) === 1,
    typesize: typesize ?? 8,
    format: FORMAT[cname],
    encode: encoderFor(cname, level ?? 5),
    hcr: cname === 'zstd' || cname === 'zlib',
  };
  const spec: Record<string, unknown> = {};
  if (level !== undefined) spec.level = level;
  if (shuffleOpt !== undefined) spec.shuffle = shuffleOpt;
  if (typesize !== undefined) spec.typesize = typesize;
  if (opts.cname !== undefined) spec.cname = cname;
  return compressLayer('blosc', inner, (b) => bloscEncode(b, settings), bloscDecode, Object.keys(spec).length === 0 ? undefined : spec);
}

registerLayer('blosc', {
  children: ['inner'],
  options: ['level', 'shuffle', 'typesize', 'cname'],
  open: (spec, inner) => {
    const opts: BloscOptions = {};
    for (const name of ['level', 'shuffle', 'typesize'] as const) if (spec[name] !== undefined) opts[name] = Number(spec[name]);
    if (spec.cname !== undefined) opts.cname = spec.cname as BloscCodecName;
    return blosc(inner(spec.inner as StoreSpec), opts);
  },
});
