// The laminate stacks under test, and one workload run through one of them or
// through a Node.js peer (peers.ts): append everything, read every key back
// with get, check what was read.
import { rmSync } from 'node:fs';
import { type BaseStore, type BufferStore, type FileStore, type LogStore, brotli, buffer, dict, file, gzip, log, lz4, zlib, zstd } from '@laminate/core';
import { type Measurement, appendThenGet } from './measure.js';
import { diskUsage } from './disk.js';
import { NODE_PEERS } from './peers.js';
import { type Expected, type Workload, batchOf, keyNames, totalBytes, valueCount, wrongBytes } from './workloads.js';

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
  'file-view': { label: 'file(), getView', make: (dir) => viewing(file(dir)), onDisk: true },
  log: { label: 'log()', make: (dir) => log(dir), onDisk: true },
  'log-view': { label: 'log(), getView', make: (dir) => viewing(log(dir)), onDisk: true },
  buffer: { label: 'buffer(dict(), file(), 64 MiB)', make: (dir) => buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY }), onDisk: false },
  'buffer-view': { label: 'buffer(dict(), file(), 64 MiB), getView', make: (dir) => viewing(buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY })), onDisk: false },
  'buffer-transfer': { label: 'buffer(dict(), file(), 64 MiB), transfer', make: (dir) => transferring(buffer(dict(), file(dir), { availableMemory: BUFFER_MEMORY })), onDisk: false },
  zlib: { label: 'zlib(file())', make: (dir) => zlib(file(dir)), onDisk: true },
  gzip: { label: 'gzip(file())', make: (dir) => gzip(file(dir)), onDisk: true },
  brotli: { label: 'brotli(file())', make: (dir) => brotli(file(dir)), onDisk: true },
  lz4: { label: 'lz4(file())', make: (dir) => lz4(file(dir)), onDisk: true },
  zstd: { label: 'zstd(file())', make: (dir) => zstd(file(dir)), onDisk: true },
};

/** `store` with every append made with `{ transfer: true }`: the corpus the batches view is never changed. */
function transferring<S extends BaseStore<Uint8Array>>(store: S): S {
  const append = store.append.bind(store);
  store.append = (data, opts) => append(data, { ...opts, transfer: true });
  return store;
}

/**
 * `store` whose get is getView(): each key read into the store's reused
 * scratch buffer. The harness checks each read before the next get, which is
 * as long as such a view is valid.
 */
function viewing<S extends FileStore | LogStore | BufferStore>(store: S): S {
  store.get = (key) => store.getView(key);
  return store;
}

/** Runs workload `w` through the laminate stack or Node.js peer called `name` (a key of STACKS or NODE_PEERS). */
export async function runStore(name: string, w: Workload, corpus: Buffer, want: Expected, dir: string): Promise<Measurement> {
  const stack = STACKS[name];
  const peer = NODE_PEERS[name];
  const result: Measurement = { store: stack?.label ?? peer.label, workload: w.id, values: valueCount(w), bytes: totalBytes(w), appendSeconds: 0, getSeconds: 0, verified: false };
  rmSync(dir, { recursive: true, force: true });
  return appendThenGet(result, stack ? stack.make(dir) : await peer.make(dir), dir, {
    calls: w.calls,
    batch: (c) => batchOf(w, corpus, c),
    afterAppends: () => {
      // Every peer keeps all of its data in its directory; buffer() holds part of it in memory.
      if (!stack || stack.onDisk) result.diskBytes = diskUsage(dir);
    },
    keys: keyNames(w),
    wrong: wrongBytes(want),
  });
}
