/**
 * A seeded pseudo-random generator in [0, 1) (mulberry32, 32 bits a draw), for
 * data that must be the same on every run: the conformance suite's and tests'
 * values, so a failing test replays exactly, and the benchmarks' corpora, so
 * every run measures the same bytes. Its sequence for a seed is part of what
 * those tests and published numbers rest on: do not change it.
 *
 * Not the pool's sampler: @laminate/pool draws with sfc32 (53 bits a draw),
 * and the samples its users' seeds give are documented (docs/pool.md).
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
