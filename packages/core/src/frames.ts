/**
 * Reading a key's frames: every layer that stores frames (the encoders, the
 * compressors, checksum(), arrow, typedArrays' object arrays) reads through
 * these, so a torn tail and damage are told apart, and said, the same way
 * everywhere (frame-damage.ts).
 */
import { type FrameReader, type Place, type Problem, corruptFrame, repairRefused, tailProblem, undecodable } from './frame-damage.js';
import { HEADER, lengthAt } from './framing.js';
import type { KeyId } from './keys.js';

export type { FrameReader } from './frame-damage.js';

/**
 * Decodes the whole frames at the start of `bytes`, handing each value to
 * `take`, up to the first that does not decode. Returns where the decoded
 * frames end, and that frame's problem if one failed.
 */
function decodeWhole<T>(bytes: Uint8Array, reader: FrameReader<T>, place: Place, take: (value: T) => void): { end: number; frames: number; problem?: Problem } {
  let offset = 0;
  let frames = 0;
  while (bytes.byteLength - offset >= HEADER) {
    const length = lengthAt(bytes, offset);
    if (length > bytes.byteLength - offset - HEADER) break;
    const payload = bytes.subarray(offset + HEADER, offset + HEADER + length);
    let value: T;
    try {
      value = reader.decode ? reader.decode(payload) : (payload as T);
    } catch (error) {
      return { end: offset, frames, problem: undecodable(place.base + offset, length, place.index + frames, reader.layer, error) };
    }
    take(value);
    offset += HEADER + length;
    frames++;
  }
  return { end: offset, frames };
}

/** What is wrong with a key's bytes, if anything; each value that decodes goes to `take`. */
function inspect<T>(bytes: Uint8Array, reader: FrameReader<T>, place: Place, take: (value: T) => void): Problem | undefined {
  const { end, frames, problem } = decodeWhole(bytes, reader, place, take);
  if (problem) return problem;
  if (end === bytes.byteLength) return undefined;
  return tailProblem(bytes, end, reader, { base: place.base, index: place.index + frames });
}

/**
 * Splits whole frames off `bytes`. Returns the payloads (views, no copies) and
 * where the unread rest starts; `strict` makes a partial frame at the end an
 * ERR_CORRUPT_FRAME instead of a rest left for more bytes. The payloads are
 * not decoded: a layer that decodes them reads with readFrames(), which also
 * tells a torn tail from damage by whether the frames decode.
 */
export function splitFrames(bytes: Uint8Array, id: KeyId, strict: boolean, base = 0): { payloads: Uint8Array[]; rest: number } {
  const payloads: Uint8Array[] = [];
  const { end } = decodeWhole(bytes, {}, { base, index: 0 }, (payload: Uint8Array) => payloads.push(payload));
  if (strict && end !== bytes.byteLength) throw corruptFrame(id, tailProblem(bytes, end, {}, { base, index: payloads.length }), {});
  return { payloads, rest: end };
}

/** Every value in a key's bytes, or the ERR_CORRUPT_FRAME that says whether the key is torn (repair() applies) or damaged. */
export function readFrames<T>(bytes: Uint8Array, id: KeyId, reader: FrameReader<T>): T[] {
  const values: T[] = [];
  const problem = inspect(bytes, reader, { base: 0, index: 0 }, (value) => values.push(value));
  if (problem) throw corruptFrame(id, problem, reader);
  return values;
}

/** readFrames() over a key read in pieces: yields each value as its frame completes, then throws at the first problem. */
export async function* streamFrames<T>(chunks: AsyncIterable<Uint8Array>, id: KeyId, reader: FrameReader<T>): AsyncIterable<T> {
  let carry: Uint8Array = new Uint8Array(0);
  let place: Place = { base: 0, index: 0 };
  for await (const chunk of chunks) {
    const bytes = carry.byteLength === 0 ? chunk : Buffer.concat([carry, chunk]);
    const values: T[] = [];
    const { end, frames, problem } = decodeWhole(bytes, reader, place, (value) => values.push(value));
    yield* values;
    if (problem) throw corruptFrame(id, problem, reader);
    carry = bytes.subarray(end);
    place = { base: place.base + end, index: place.index + frames };
  }
  if (carry.byteLength > 0) throw corruptFrame(id, tailProblem(carry, 0, reader, place), reader);
}

/**
 * Where repair() cuts a key: the end of its last whole frame when only a torn
 * tail follows (the key's length when nothing does). Damage anywhere, even
 * with a torn tail after it, is an ERR_CORRUPT_FRAME, so nothing is cut.
 */
export function wholeFramesEnd<T>(bytes: Uint8Array, id: KeyId, reader: FrameReader<T>): number {
  const problem = inspect(bytes, reader, { base: 0, index: 0 }, () => undefined);
  if (!problem) return bytes.byteLength;
  if (!problem.torn) throw repairRefused(id, problem);
  return problem.offset;
}
