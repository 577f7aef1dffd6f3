/**
 * What is wrong with a key whose frames do not read, told apart by what the
 * bytes look like:
 *
 * - a **torn tail**: the frames read up to a last one that stops short (fewer
 *   bytes than a header, or fewer than its header announces). A writer that
 *   died mid-append leaves exactly this, and repair() cuts it;
 * - **damage**: a whole frame that does not decode (a flipped bit, a header
 *   that frames the wrong bytes), a header no writer could have written, or
 *   a tail whose header is one bit away from framing exactly the values after
 *   it. repair() must not cut there: it would delete whole values and the key
 *   would still not read;
 * - **another stack's bytes** (raw bytes read through msgpack()): damage too,
 *   most often at byte 0.
 */
import { LaminateError } from './errors.js';
import { HEADER, lengthAt } from './framing.js';
import { type KeyId, showKey } from './keys.js';

/** How a layer reads one frame's payload. */
export interface FrameReader<T> {
  /** The layer's name, for messages. */
  readonly layer?: string;
  /**
   * The value in one payload; throws when the payload does not decode. Without
   * it the payloads are taken as they are, and a damaged header that still
   * frames bytes cannot be told from a torn tail.
   */
  readonly decode?: (payload: Uint8Array) => T;
  /**
   * False when the bytes come out of another decoding layer (msgpack() over
   * lz4()): they are whole values that no writer can tear, so a frame cut
   * short in them is damage, and repair() belongs to the layer below.
   */
  readonly tearable?: boolean;
  /** Set when the layer has no repair() (arrowColumns): a torn tail's message gives this advice instead. */
  readonly noRepair?: string;
}

/** Where a run of bytes sits in its key: the offset of its first byte and how many whole frames came before. */
export interface Place {
  readonly base: number;
  readonly index: number;
}

/** What is wrong with a key's bytes. */
export interface Problem {
  /** A torn tail, which repair() cuts back to `offset`; anything else is damage, which repair() refuses to touch. */
  readonly torn: boolean;
  /** Where the frame or tail that fails starts, in the key's bytes. */
  readonly offset: number;
  /** Whole frames before it, which read. */
  readonly whole: number;
  /** What the bytes look like, as the rest of a sentence starting "Key "k" ". */
  readonly what: string;
  readonly cause?: unknown;
}

/**
 * Larger than any value a process holds in memory (2^48 bytes, 256 TiB, is the
 * whole address space of the 48-bit virtual addresses x86-64 and arm64 use): a
 * header announcing this much was not written by a writer, whatever it died of.
 */
const MOST = 2 ** 48;

/** A whole frame whose payload the layer's decoder refuses. */
export function undecodable(offset: number, length: number, index: number, layer: string | undefined, cause: unknown): Problem {
  const why = (cause as Error)?.message ?? String(cause);
  const as = layer ? ` as ${layer}` : '';
  const what =
    index === 0
      ? `does not decode${as}: its first frame (${length} bytes at byte ${offset}) fails (${why}). It was written through another stack, or is damaged`
      : `is damaged: frame ${index + 1} (${length} bytes at byte ${offset}) does not decode${as} (${why}), after ${index} that do`;
  return { torn: false, offset, whole: index, what, cause };
}

/**
 * What the bytes from `offset` on are, when they are not a whole frame: the
 * tail of the key (it runs to the end of `bytes`). `place` says where `bytes`
 * starts in the key and how many whole frames come before `offset`.
 */
export function tailProblem<T>(bytes: Uint8Array, offset: number, reader: FrameReader<T>, place: Place): Problem {
  const left = bytes.byteLength - offset;
  const at = place.base + offset;
  const total = place.base + bytes.byteLength;
  const damage = (what: string): Problem => ({ torn: false, offset: at, whole: place.index, what });
  const frames = reader.layer ? `${reader.layer} frames` : 'frames';
  const header = left >= HEADER ? lengthAt(bytes, offset) : undefined;
  const announces = header === undefined ? '' : `a header announcing ${exactLength(bytes, offset)} bytes and ${left - HEADER} bytes after it`;

  if (reader.tearable === false) {
    return damage(`does not hold whole ${frames}: the ${left} bytes at byte ${at} of what the layer below decoded are not a whole frame${announces ? ` (${announces})` : ''}. Whole decoded values are not torn by a writer: the key was written through another stack, or damaged where the layer below has no checksum`);
  }
  if (header === undefined) {
    // No header to judge: a first append cut short, or bytes of another stack. Refusing loses nothing (no whole value is there).
    if (at === 0) return damage(`holds ${left} bytes, too few for one frame header (${HEADER} bytes), and no whole frame: it was written through another stack, or its first append was cut short`);
    return { torn: true, offset: at, whole: place.index, what: `its last ${left} bytes are too few for a frame header (${HEADER} bytes)` };
  }
  if (header >= MOST) {
    return damage(`does not hold ${frames}${at > 0 ? ` from byte ${at} on` : ''}: the header at byte ${at} announces ${exactLength(bytes, offset)} bytes, more than the whole key holds (${total} bytes) and more than any writer could have written. It was written through another stack, or is damaged`);
  }
  const fix = reader.decode ? oneBitAway(bytes, offset, header, reader) : undefined;
  if (fix) {
    const after = fix.frames > 0 ? ` and the ${fix.frames} frames after it` : '';
    return damage(`is damaged at byte ${at}: the frame header there announces ${header} bytes, more than the ${left - HEADER} after it, but with one bit changed (${fix.length}) it frames exactly the value that follows${after}. A damaged header, not a writer that died mid-append`);
  }
  return { torn: true, offset: at, whole: place.index, what: `its header announces ${header} bytes and only ${left - HEADER} follow` };
}

/**
 * A header with one bit flipped to 1 announces more than the key holds, like a
 * torn frame; flipped back, it frames a value that decodes, followed by whole
 * frames that decode up to the end of the key. A torn frame's bytes are a
 * prefix of a value, which a decoder that checks its input refuses.
 */
function oneBitAway<T>(bytes: Uint8Array, offset: number, header: number, reader: FrameReader<T>): { length: number; frames: number } | undefined {
  const start = offset + HEADER;
  for (let bit = 1; bit <= header; bit *= 2) {
    if (Math.floor(header / bit) % 2 === 0) continue;
    const length = header - bit;
    if (length > bytes.byteLength - start || !decodes(reader, bytes.subarray(start, start + length))) continue;
    const frames = framesToEnd(bytes, start + length, reader);
    if (frames !== undefined) return { length, frames };
  }
  return undefined;
}

/** How many frames, none empty and each decoding, fill `bytes` from `offset` to its end exactly; undefined if they do not. */
function framesToEnd<T>(bytes: Uint8Array, offset: number, reader: FrameReader<T>): number | undefined {
  let count = 0;
  while (offset < bytes.byteLength) {
    if (bytes.byteLength - offset < HEADER) return undefined;
    const length = lengthAt(bytes, offset);
    // laminate and partd never write an empty payload: a run of zero bytes is no evidence.
    if (length === 0 || length > bytes.byteLength - offset - HEADER) return undefined;
    if (!decodes(reader, bytes.subarray(offset + HEADER, offset + HEADER + length))) return undefined;
    offset += HEADER + length;
    count++;
  }
  return count;
}

function decodes<T>(reader: FrameReader<T>, payload: Uint8Array): boolean {
  try {
    reader.decode!(payload);
    return true;
  } catch {
    return false;
  }
}

/** The header's length exactly, also past 2^53, for messages. */
function exactLength(bytes: Uint8Array, offset: number): string {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER).getBigUint64(0, true).toString();
}

/** The error a read throws: for a torn tail it says to call repair(), for damage it says repair() does not apply. */
export function corruptFrame<T>(id: KeyId, problem: Problem, reader: FrameReader<T>): LaminateError {
  const key = showKey(id);
  if (problem.torn) {
    const advice = reader.noRepair ?? `call repair(${key}) to cut the key back to its last whole value (it removes only this torn tail)`;
    return new LaminateError('ERR_CORRUPT_FRAME', `Key ${key} ends in a torn frame at byte ${problem.offset}: ${problem.what}. A writer probably died mid-append; ${advice}.`, {
      key,
      offset: problem.offset,
      repairable: reader.noRepair === undefined,
    });
  }
  return new LaminateError('ERR_CORRUPT_FRAME', `Key ${key} ${problem.what}. ${DAMAGE_ADVICE}`, { key, offset: problem.offset, repairable: false, cause: problem.cause });
}

/** repair() refusing damage: it cuts only a torn tail, and cut nothing. */
export function repairRefused(id: KeyId, problem: Problem): LaminateError {
  const key = showKey(id);
  return new LaminateError('ERR_CORRUPT_FRAME', `repair(${key}) cut nothing: key ${key} ${problem.what}. ${DAMAGE_ADVICE}`, { key, offset: problem.offset, repairable: false, cause: problem.cause });
}

const DAMAGE_ADVICE = 'repair() does not apply: it cuts only the torn tail a writer dying mid-append leaves, and this is not one. Read the key through the stack that wrote it, or delete it and write it again.';
