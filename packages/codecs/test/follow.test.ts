/**
 * typedArrays(…).follow(): arrays of whole items as the key's bytes land,
 * object arrays frame by frame, positions to resume from.
 */
import { dict, file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { typedArrays } from '@laminate/codecs';
import { afterAll, describe, expect, it } from 'vitest';

const tempDir = tempDirs('laminate-typed-follow-', afterAll);

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('typedArrays().follow()', () => {
  it('numeric: the items appended, in order, until the seal; resumes from a position', async () => {
    const store = typedArrays(file(tempDir()));
    await store.append({ x: Float64Array.of(1, 2) });
    const follower = store.follow('x');
    const seen: number[] = [];
    const reading = (async () => {
      for await (const value of follower) seen.push(...(value as Float64Array));
    })();
    await store.append({ x: Float64Array.of(3) });
    await store.append({ x: Float64Array.of(4, 5) });
    await store.seal('x');
    await reading;
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(follower.position).toBe(5 * 8);
    const rest = await collect(store.follow('x', { from: 16 }));
    expect(rest.flatMap((value) => [...(value as Float64Array)])).toEqual([3, 4, 5]);
    await store.close();
  });

  it('object arrays: one list per append', async () => {
    const store = typedArrays(dict());
    await store.append({ o: ['a', 1] });
    await store.append({ o: [{ b: 2 }] });
    await store.seal('o');
    expect(await collect(store.follow('o'))).toEqual([['a', 1], [{ b: 2 }]]);
  });
});
