/**
 * snappy(inner): each appended value is one raw Snappy block (the block
 * format, not the framed stream format), inside partd's 8-byte length
 * frames: what partd.Snappy writes with python-snappy's snappy.compress, so
 * either side reads the other's directory.
 */
import { type Store, type StoreSpec, type CompressStore } from '@laminate/core';
import { registerLayer, asBuffer, compressLayer } from '@laminate/core/layer';
import { compressSync, uncompressSync } from 'snappy';

export function snappy(inner: Store<Uint8Array>): CompressStore {
  return compressLayer(
    'snappy',
    inner,
    (b) => compressSync(asBuffer(b)),
    (b) => uncompressSync(asBuffer(b), { asBuffer: true }) as Buffer,
  );
}

registerLayer('snappy', { children: ['inner'], open: (spec, inner) => snappy(inner(spec.inner as StoreSpec)) });
