import * as nodeZlib from 'node:zlib';
import { Compressor, decompress as zstdDecompress } from 'zstd-napi';
import { typeError } from './errors.js';
import { type Codec, EncodeStore } from './encode.js';
import type { KeyId } from './keys.js';
import { encodeLz4Frame, lz4Decode } from './lz4-frame.js';
import { type AnyStore, registerLayer } from './spec.js';
import { type Store, type StoreSpec, checkBytes, concatBytes } from './store.js';

export interface LevelOptions {
  /** Compression level; each layer documents its range and default. */
  level?: number;
}

export type CompressStore = EncodeStore<Uint8Array>;

/**
 * A bytes → bytes layer from a pair of functions: every compression layer
 * (here and in other packages) frames, joins and checks values the same way.
 */
export function compressLayer(
  name: string,
  inner: Store<Uint8Array>,
  encode: (b: Uint8Array) => Uint8Array,
  decode: (b: Uint8Array) => Uint8Array,
  spec?: Record<string, unknown>,
): CompressStore {
  const codec: Codec<Uint8Array> = {
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
  return new EncodeStore(codec, inner);
}

/** A whole-number option within [min, max], or undefined when not given; otherwise ERR_INVALID_OPTION. */
export function wholeOption(layer: string, option: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw typeError('ERR_INVALID_OPTION', `${layer}(): ${option} must be a whole number from ${min} to ${max}; got ${String(value)}.`);
  }
  return value;
}

const levelIn = (layer: string, level: number | undefined, min: number, max: number) => wholeOption(layer, 'level', level, min, max);

/** zlib (deflate with the zlib header): partd's ZLib. Level 0–9, default 6. */
export function zlib(inner: Store<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('zlib', opts.level, 0, 9);
  return compressLayer('zlib', inner, (b) => nodeZlib.deflateSync(b, { level }), (b) => nodeZlib.inflateSync(b), level === undefined ? undefined : { level });
}

/** gzip. Level 0–9, default 6. */
export function gzip(inner: Store<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('gzip', opts.level, 0, 9);
  return compressLayer('gzip', inner, (b) => nodeZlib.gzipSync(b, { level }), (b) => nodeZlib.gunzipSync(b), level === undefined ? undefined : { level });
}

/** brotli. Quality 0–11, default 4 (brotli's own default of 11 is far too slow for a store). */
export function brotli(inner: Store<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('brotli', opts.level, 0, 11) ?? 4;
  const params = { [nodeZlib.constants.BROTLI_PARAM_QUALITY]: level };
  return compressLayer('brotli', inner, (b) => nodeZlib.brotliCompressSync(b, { params }), (b) => nodeZlib.brotliDecompressSync(b), { level });
}

/**
 * LZ4 frames with their content checksum (lz4-frame.ts): the fastest codec
 * here. Values written before lz4() wrote frames (bare blocks) still read.
 */
export function lz4(inner: Store<Uint8Array>): CompressStore {
  return compressLayer('lz4', inner, encodeLz4Frame, lz4Decode);
}

/**
 * zstd frames (zstd-napi) with their content checksum, which zstd checks on
 * every read; frames written without one (before it was on) still read.
 * Level 1–19 (negative levels trade ratio for speed), default 3.
 */
export function zstd(inner: Store<Uint8Array>, opts: LevelOptions = {}): CompressStore {
  const level = levelIn('zstd', opts.level, -7, 22) ?? 3;
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: level, checksumFlag: true });
  return compressLayer('zstd', inner, (b) => compressor.compress(b), (b) => zstdDecompress(b), { level });
}

/** The level a compressor's spec records, if any. */
const level = (spec: StoreSpec): LevelOptions => (spec.level === undefined ? {} : { level: Number(spec.level) });
const inner = (spec: StoreSpec, open: (spec: StoreSpec) => AnyStore) => open(spec.inner as StoreSpec);
registerLayer('zlib', { children: ['inner'], options: ['level'], open: (spec, open) => zlib(inner(spec, open), level(spec)) });
registerLayer('gzip', { children: ['inner'], options: ['level'], open: (spec, open) => gzip(inner(spec, open), level(spec)) });
registerLayer('brotli', { children: ['inner'], options: ['level'], open: (spec, open) => brotli(inner(spec, open), level(spec)) });
registerLayer('zstd', { children: ['inner'], options: ['level'], open: (spec, open) => zstd(inner(spec, open), level(spec)) });
registerLayer('lz4', { children: ['inner'], open: (spec, open) => lz4(inner(spec, open)) });

/** A Buffer view of `bytes` (native codecs want Buffers), without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
