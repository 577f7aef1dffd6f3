/**
 * Seeded sampling: sfc32 (a small, fast generator that passes PractRand and
 * BigCrush) seeded through splitmix32, and Floyd's algorithm for k distinct
 * indices out of n, each k-subset equally likely, then shuffled so that the
 * order is uniform too.
 */

/** A generator of uniform doubles in [0, 1) with 53 random bits, from a 32-bit seed. */
export function generator(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next32();
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/** A seed from a number (any number; it is hashed to 32 bits) or, without one, from Math.random. */
export function seedOf(seed: number | undefined): number {
  if (seed === undefined) return (Math.random() * 2 ** 32) >>> 0;
  if (Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32) return seed;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, seed);
  return (view.getUint32(0) ^ Math.imul(view.getUint32(4), 0x9e3779b1)) >>> 0;
}

/** k distinct indices in [0, n), uniformly at random, in random order. */
export function distinctIndices(n: number, k: number, random: () => number): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(random() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  const out = [...chosen];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
