// Reading frames back at their edges: a last frame with an empty payload, and where a problem is
// said to be (error.offset, "frame N") when the key was read in one piece, in several, or from
// an offset into it. corruption.test.ts covers which problems are torn tails and which damage.
import { describe, expect, it } from 'vitest';
import { type FrameReader, frame, readFrames, splitFrames, streamFrames } from '@laminate/core/layer';
import { thrown } from '@laminate/core/testing';

/** A reader whose payloads decode unless they start with 0xff. */
const strictReader: FrameReader<Buffer> = {
  layer: 'test',
  decode: (payload) => {
    if (payload[0] === 0xff) throw new Error('a payload starting with 0xff');
    return Buffer.from(payload);
  },
};

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => frame(typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

async function* chunksOf(all: Buffer, sizes: number[]): AsyncIterable<Uint8Array> {
  let at = 0;
  for (const size of sizes) {
    yield all.subarray(at, at + size);
    at += size;
  }
  if (at < all.byteLength) yield all.subarray(at);
}

async function streamed(all: Buffer, sizes: number[]): Promise<{ values: string[]; error?: { code: string; offset: number; message: string } }> {
  const values: string[] = [];
  try {
    for await (const value of streamFrames(chunksOf(all, sizes), 'k', strictReader)) values.push(value.toString());
  } catch (error) {
    return { values, error: error as { code: string; offset: number; message: string } };
  }
  return { values };
}

describe('frames: the edges', () => {
  it('reads a last frame whose payload is empty (a header and nothing after it)', () => {
    const all = bytes('ab', '', 'c', '');
    expect(splitFrames(all, 'k', true)).toEqual({ payloads: [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('c'), Buffer.alloc(0)], rest: all.byteLength });
    expect(readFrames(all, 'k', strictReader).map(String)).toEqual(['ab', '', 'c', '']);
    expect(readFrames(frame(Buffer.alloc(0)), 'k', strictReader).map(String)).toEqual(['']);
  });

  it('splitFrames: a strict read of a torn key says the byte where the torn frame starts, counted from the key\'s start', () => {
    const whole = bytes('one', 'three');
    const torn = Buffer.concat([whole, frame(Buffer.from('cut short')).subarray(0, 11)]);
    expect(splitFrames(torn, 'k', false)).toMatchObject({ rest: whole.byteLength });
    const error = thrown(() => splitFrames(torn, 'k', true));
    expect(error).toMatchObject({ code: 'ERR_CORRUPT_FRAME', offset: whole.byteLength, repairable: true });
    expect(error.message).toContain(`at byte ${whole.byteLength}`);
    // Bytes read from offset 1000 into the key: the offset is the key's, not the slice's.
    expect(thrown(() => splitFrames(torn, 'k', true, 1000))).toMatchObject({ offset: 1000 + whole.byteLength });
  });

  it('streamFrames: a torn tail after several chunks is placed at its byte in the whole key', async () => {
    const whole = bytes('alpha', 'beta', 'gamma');
    const all = Buffer.concat([whole, frame(Buffer.from('delta')).subarray(0, 10)]);
    for (const sizes of [[all.byteLength], [13, 12], [5, 5, 5, 5, 5, 5], [whole.byteLength], [1, 20, 1]]) {
      const { values, error } = await streamed(all, sizes);
      expect(values, String(sizes)).toEqual(['alpha', 'beta', 'gamma']);
      expect(error, String(sizes)).toMatchObject({ code: 'ERR_CORRUPT_FRAME', offset: whole.byteLength });
    }
  });

  it('streamFrames: a frame that does not decode, in a later chunk, is named by its number and byte in the whole key', async () => {
    const before = bytes('alpha', 'beta', 'gamma');
    const all = Buffer.concat([before, bytes([0xff, 1, 2]), bytes('after')]);
    for (const sizes of [[all.byteLength], [13, 12], [5, 5, 5, 5, 5, 5], [before.byteLength], [1, 20, 1]]) {
      const { values, error } = await streamed(all, sizes);
      expect(values, String(sizes)).toEqual(['alpha', 'beta', 'gamma']);
      expect(error, String(sizes)).toMatchObject({ code: 'ERR_CORRUPT_FRAME', offset: before.byteLength });
      expect(error?.message, String(sizes)).toContain(`frame 4 (3 bytes at byte ${before.byteLength})`);
      expect(error?.message, String(sizes)).toContain('after 3 that do');
    }
    // The same key read whole says the same.
    const error = thrown(() => readFrames(all, 'k', strictReader));
    expect(error).toMatchObject({ offset: before.byteLength });
    expect(error.message).toContain(`frame 4 (3 bytes at byte ${before.byteLength})`);
  });
});
