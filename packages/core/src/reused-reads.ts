import { LaminateError, typeError } from './errors.js';
import { type KeyId, showKey } from './keys.js';

/** The largest scratch buffer a store keeps between getView() calls; a larger key is read into memory of its own. */
const MAX_SCRATCH = 64 << 20;

/**
 * getView()'s memory (file(), buffer()): one buffer reused from call to
 * call, so that reads into it fault in no fresh memory; grown when a key
 * needs more, and kept up to MAX_SCRATCH.
 */
export class Scratch {
  private buffer?: Buffer;

  /** A buffer of at least `size` bytes: the kept one when it is large enough. */
  room(size: number): Buffer {
    if (this.buffer !== undefined && this.buffer.byteLength >= size) return this.buffer;
    const into = Buffer.allocUnsafe(size);
    if (size <= MAX_SCRATCH) this.buffer = into;
    return into;
  }
}

/** Throws ERR_VALUE_TYPE unless readInto()'s `target` is bytes. */
export function checkReadTarget(target: unknown): asserts target is Uint8Array {
  if (!(target instanceof Uint8Array)) throw typeError('ERR_VALUE_TYPE', 'readInto(key, target): target must be a Uint8Array (or Buffer) to read the key into.');
}

/** readInto()'s ERR_TOO_LARGE: key `id` holds `size` bytes, more than `target` has room for (nothing was read). */
export function tooLargeForTarget(id: KeyId, size: number, target: Uint8Array): LaminateError {
  return Object.assign(
    new LaminateError('ERR_TOO_LARGE', `Key ${showKey(id)} holds ${size} bytes, more than the ${target.byteLength} of the buffer given to readInto(); nothing was read. Pass a buffer of at least ${size} bytes.`, { key: showKey(id) }),
    { size },
  );
}
