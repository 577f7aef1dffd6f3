// The laminate stacks under test, and one workload run through one of them:
// append everything, read every key back with get, check what was read.
import { rmSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { type BaseStore, brotli, buffer, dict, file, gzip, lz4, zlib, zstd } from '@laminate/core';
import { type Measurement, now } from './measure.js';
import { diskUsage } from './disk.js';
import { type Expected, type Workload, forEachValue, keyName, totalBytes, valueCount } from './workloads.js';

export const BUFFER_MEMORY = 64 * 2 ** 20;

interface Stack {
  label: string;
  make(dir: string): BaseStore<Uint8Array>;
  /** False when part of the data stays in memory, so the directory size means nothing. */
  onDisk: boolean;
}

export const STACKS: Record<string, Stack> = {
  file: { label: 'file()', make: (dir) => file(dir), onDisk: true },
  'file-exclusive': { label: 'file(dir, { exclusive: true })', make: (dir) => file(dir, { exclusive: true }), onDisk: true },
  buffer: { label: 'buffer(dict(), file(), 64 MiB)', make: (dir) => buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY }), onDisk: false },
  zlib: { label: 'zlib(file())', make: (dir) => zlib(file(dir)), onDisk: true },
  gzip: { label: 'gzip(file())', make: (dir) => gzip(file(dir)), onDisk: true },
  brotli: { label: 'brotli(file())', make: (dir) => brotli(file(dir)), onDisk: true },
  lz4: { label: 'lz4(file())', make: (dir) => lz4(file(dir)), onDisk: true },
  zstd: { label: 'zstd(file())', make: (dir) => zstd(file(dir)), onDisk: true },
};

export async function runLaminate(name: string, w: Workload, corpus: Buffer, want: Expected, dir: string): Promise<Measurement> {
  const stack = STACKS[name];
  const result: Measurement = { store: stack.label, workload: w.id, values: valueCount(w), bytes: totalBytes(w), appendSeconds: 0, getSeconds: 0, verified: false };
  rmSync(dir, { recursive: true, force: true });
  const store = stack.make(dir);
  try {
    for (let c = 0; c < w.calls; c++) {
      const batch: Record<string, Uint8Array> = {};
      forEachValue(w, corpus.byteLength, c, (k, offset) => {
        batch[keyName(k)] = corpus.subarray(offset, offset + w.valueBytes);
      });
      const t0 = now();
      await store.append(batch);
      result.appendSeconds += now() - t0;
    }
    if (stack.onDisk) result.diskBytes = diskUsage(dir);
    const wrong: string[] = [];
    for (let k = 0; k < w.keys; k++) {
      const t0 = now();
      const got = await store.get(keyName(k));
      result.getSeconds += now() - t0;
      if (got.byteLength !== want.lengths[k] || crc32(got) !== want.crcs[k]) wrong.push(`${keyName(k)} (${got.byteLength} bytes, expected ${want.lengths[k]})`);
    }
    if (wrong.length > 0) result.error = `${wrong.length} keys read back wrong: ${wrong.slice(0, 3).join(', ')}`;
    else result.verified = true;
  } catch (error) {
    result.error = `failed: ${(error as Error).message}`;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
