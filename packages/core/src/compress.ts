import * as nodeZlib from 'node:zlib';
import * as lz4napi from 'lz4-napi';
import { Compressor, decompress as zstdDecompress } from 'zstd-napi';
import { typeError } from './errors.js';
import { type Codec, EncodeStore } from './encode.js';
import type { KeyId } from './keys.js';
import { type BaseStore, checkBytes, concatBytes } from './store.js';

export interface LevelOptions {
  /** Compression level; each layer documents its range and default. */
  level?: number;
}

/** A bytes → bytes codec: every compression layer joins and checks values the same way. */
function bytesCodec(name: string, encode: (b: Uint8Array) => Uint8Array, decode: (b: Uint8Array) => Uint8Array, spec?: Record<string, unknown>): Codec<Uint8Array> {
  return {
    name,
    encode,
    decode,
    join: concatBytes,
    empty: () => Buffer.alloc(0),
    check(value: unknown, id: KeyId): asserts value is Uint8Array {
      checkBytes(name, value, id);
    },
    spec,
  };
}

function levelIn(name: string, level: number | undefined, min: number, max: number): number | undefined {
  if (level === undefined) return undefined;
  if (!Number.isInteger(level) || level < min || level > max) {
    throw typeError('ERR_INVALID_OPTION', `${name}(): level must be a whole number from ${min} to ${max}; got ${level}.`);
  }
  return level;
}

export type CompressStore = EncodeStore<Uint8Array>;

/** zlib (deflate with the zlib header): partd's ZLib. Level 0–9, default 6. */
export function zlib(inner: BaseStore<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('zlib', opts.level, 0, 9);
  return new EncodeStore(bytesCodec('zlib', (b) => nodeZlib.deflateSync(b, { level }), (b) => nodeZlib.inflateSync(b), level === undefined ? undefined : { level }), inner);
}

/** gzip. Level 0–9, default 6. */
export function gzip(inner: BaseStore<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('gzip', opts.level, 0, 9);
  return new EncodeStore(bytesCodec('gzip', (b) => nodeZlib.gzipSync(b, { level }), (b) => nodeZlib.gunzipSync(b), level === undefined ? undefined : { level }), inner);
}

/** brotli. Quality 0–11, default 4 (brotli's own default of 11 is far too slow for a store). */
export function brotli(inner: BaseStore<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('brotli', opts.level, 0, 11) ?? 4;
  const params = { [nodeZlib.constants.BROTLI_PARAM_QUALITY]: level };
  return new EncodeStore(bytesCodec('brotli', (b) => nodeZlib.brotliCompressSync(b, { params }), (b) => nodeZlib.brotliDecompressSync(b), { level }), inner);
}

/** lz4 block format with its size prefix (lz4-napi): the fastest codec here. */
export function lz4(inner: BaseStore<Uint8Array>): CompressStore {
  return new EncodeStore(bytesCodec('lz4', (b) => lz4napi.compressSync(asBuffer(b)), (b) => lz4napi.uncompressSync(b)), inner);
}

/** zstd frames (zstd-napi). Level 1–19 (negative levels trade ratio for speed), default 3. */
export function zstd(inner: BaseStore<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('zstd', opts.level, -7, 22) ?? 3;
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: level });
  return new EncodeStore(bytesCodec('zstd', (b) => compressor.compress(b), (b) => zstdDecompress(b), { level }), inner);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
