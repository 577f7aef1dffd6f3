/**
 * bz2(inner, { level }): each appended value is one bzip2 stream inside
 * partd's 8-byte length frames: what partd.BZ2 writes with Python's
 * bz2.compress, so either side reads the other's directory.
 *
 * The codec is libbzip2 itself, compiled to WebAssembly (the libbzip2-wasm
 * package, no native build). That build decodes into a fixed 10 MB buffer, so
 * a value that inflates past it is decoded by seek-bzip, a pure JavaScript
 * bzip2 decoder.
 */
import { type Store, type StoreSpec, type CompressStore } from '@laminate/core';
import { registerLayer, asBuffer, compressLayer, wholeOption } from '@laminate/core/layer';
import seekBzip from 'seek-bzip';

interface Result {
  error: number;
  output: Uint8Array;
  delete(): void;
}
interface Bzip2Module {
  compressBZ2(input: Uint8Array, blockSize: number, workFactor: number): Result;
  decompressBZ2(input: Uint8Array, small: number): Result;
  _free(pointer: number): void;
  then?: unknown;
}

// Loading the Emscripten build adds process-wide 'uncaughtException' and
// 'unhandledRejection' listeners that rethrow or abort: any unhandled rejection
// in a program that imports laminate would then kill it with a dump of the
// module's source. Its listeners are removed as soon as it is ready.
const handlers = () => [...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')] as ((...args: unknown[]) => void)[];
const before = new Set(handlers());
const { default: createBzip2 } = await import('libbzip2-wasm');

// The module is ready once its WebAssembly has compiled. Its `then` resolves
// with the module itself, which still has `then`: drop it before awaiting.
const wasm: Bzip2Module = await new Promise((resolve) => {
  const mod = (createBzip2 as unknown as () => Bzip2Module)();
  (mod.then as (f: (m: Bzip2Module) => void) => void).call(mod, (ready) => {
    delete ready.then;
    resolve(ready);
  });
});
for (const handler of handlers()) {
  if (before.has(handler)) continue;
  process.off('uncaughtException', handler);
  process.off('unhandledRejection', handler);
}

const BZ_OUTBUFF_FULL = -8;
const MESSAGES: Record<number, string> = {
  [-2]: 'bad parameters',
  [-3]: 'out of memory',
  [-4]: 'data fails its integrity check',
  [-5]: 'not a bzip2 stream (bad magic bytes)',
  [-7]: 'the stream ends early',
};

/** Copies a result out of the WebAssembly heap and frees it there. */
function take(result: Result, what: string): Buffer | number {
  try {
    if (result.error !== 0) return result.error;
    const view = result.output;
    const out = Buffer.from(view);
    wasm._free(view.byteOffset);
    return out;
  } catch (error) {
    throw new Error(`bzip2 ${what} failed: ${(error as Error).message}`);
  } finally {
    result.delete();
  }
}

function compress(bytes: Uint8Array, level: number): Buffer {
  const out = take(wasm.compressBZ2(bytes, level, 0), 'compression');
  if (typeof out === 'number') throw new Error(`bzip2 compression failed (${MESSAGES[out] ?? `error ${out}`})`);
  return out;
}

function decompress(bytes: Uint8Array): Buffer {
  const out = take(wasm.decompressBZ2(bytes, 0), 'decompression');
  if (out === BZ_OUTBUFF_FULL) return Buffer.from(seekBzip.decode(asBuffer(bytes)));
  if (typeof out === 'number') throw new Error(`not a whole bzip2 stream (${MESSAGES[out] ?? `error ${out}`})`);
  return out;
}

export interface Bz2Options {
  /** bzip2 block size in units of 100 kB, 1–9; default 9, as Python's bz2.compress. */
  level?: number;
}

export function bz2(inner: Store<Uint8Array>, opts: Bz2Options = {}): CompressStore {
  const level = wholeOption('bz2', 'level', opts.level, 1, 9);
  const use = level ?? 9;
  return compressLayer('bz2', inner, (b) => compress(b, use), decompress, level === undefined ? undefined : { level });
}

registerLayer('bz2', {
  children: ['inner'],
  options: ['level'],
  open: (spec, inner) => bz2(inner(spec.inner as StoreSpec), spec.level === undefined ? {} : { level: Number(spec.level) }),
});
