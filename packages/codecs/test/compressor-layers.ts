import type { BaseStore } from '@laminate/core';
import { blosc, bz2, snappy } from '@laminate/codecs';

export type Layer = (inner: BaseStore<Uint8Array>) => BaseStore<Uint8Array>;

/** The compressors of @laminate/codecs, with the options worth testing apart. */
export const LAYERS: Record<string, Layer> = {
  snappy: (inner) => snappy(inner),
  bz2: (inner) => bz2(inner),
  'bz2 level 1': (inner) => bz2(inner, { level: 1 }),
  blosc: (inner) => blosc(inner),
  'blosc zstd': (inner) => blosc(inner, { cname: 'zstd', typesize: 4 }),
  'blosc zlib no shuffle': (inner) => blosc(inner, { cname: 'zlib', shuffle: 0 }),
  'blosc snappy': (inner) => blosc(inner, { cname: 'snappy', level: 9 }),
};
