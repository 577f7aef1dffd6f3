// The pool's sampling on its own (src/random.ts): the seeded generator, seeds from any number, and
// k distinct indices out of n, each subset and each order equally likely. pool.test.ts checks the
// same through EpisodePool.sample(); these run the mechanism itself over many more draws.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { distinctIndices, generator, seedOf } from '../src/random.js';

/** Pearson's chi-square of observed counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

/** Critical values of chi-square at p = 0.001: a uniform sampler fails a seeded check this rarely, a biased one every time. */
const CRITICAL_001: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27, 5: 20.52, 9: 27.88, 23: 49.73 };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('generator(seed)', () => {
  it('is the same stream for a seed in every version: a saved seed draws the same sample', () => {
    const first3 = (seed: number) => {
      const next = generator(seed);
      return [next(), next(), next()];
    };
    expect(first3(0)).toEqual([0.9791452499111826, 0.28461575291693764, 0.09012765872091966]);
    expect(first3(1)).toEqual([0.42564993195549927, 0.6910148153015395, 0.9659408922812848]);
    expect(first3(0xffffffff)).toEqual([0.32916384206204297, 0.7642670684313114, 0.8727518386759752]);
  });

  it('draws doubles in [0, 1) with all 53 bits random, evenly over ten bins', () => {
    const next = generator(12345);
    const bins = new Array<number>(10).fill(0);
    let oddLowBit = 0;
    const outside: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const x = next();
      const scaled = x * 2 ** 53;
      if (!(x >= 0 && x < 1 && Number.isInteger(scaled))) outside.push(x);
      if (scaled % 2 === 1) oddLowBit++;
      bins[Math.floor(x * 10)]++;
    }
    expect(outside).toEqual([]);
    // The lowest of the 53 bits is set about half the time.
    expect(oddLowBit).toBeGreaterThan(9_500);
    expect(oddLowBit).toBeLessThan(10_500);
    expect(chiSquare(bins)).toBeLessThan(CRITICAL_001[9]);
  });
});

describe('seedOf(seed)', () => {
  it('keeps a 32-bit whole number, and hashes any other number into 32 bits the same way each time', () => {
    expect(seedOf(0)).toBe(0);
    expect(seedOf(7)).toBe(7);
    expect(seedOf(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    const hashed = [1.5, 2.5, -1, 2 ** 32, -0.5, 1e300];
    for (const seed of hashed) {
      const s = seedOf(seed);
      expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32, String(seed)).toBe(true);
      expect(seedOf(seed)).toBe(s);
    }
    expect(hashed.map(seedOf)).toEqual([1073217536, 1074003968, 3220176896, 1106247680, seedOf(-0.5), seedOf(1e300)]);
    expect(new Set(hashed.map(seedOf)).size).toBe(hashed.length);
  });

  it('draws a seed from Math.random when given none', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.75);
    expect(seedOf(undefined)).toBe(0.75 * 2 ** 32);
    vi.spyOn(Math, 'random').mockReturnValue(0.999999999999);
    expect(seedOf(undefined)).toBe(Math.floor(0.999999999999 * 2 ** 32));
  });
});

describe('distinctIndices(n, k)', () => {
  it('gives k distinct indices in [0, n), all n of them when k is n, none when k is 0', () => {
    const random = generator(5);
    for (const [n, k] of [[10, 3], [10, 10], [1, 1], [5, 0], [1000, 999]]) {
      const out = distinctIndices(n, k, random);
      expect(out.length).toBe(k);
      expect(new Set(out).size).toBe(k);
      expect(out.every((i) => Number.isInteger(i) && i >= 0 && i < n)).toBe(true);
    }
  });

  it('draws the same indices from the same generator in every version: one random number per pick and per swap', () => {
    const random = generator(1);
    expect([distinctIndices(10, 3, random), distinctIndices(10, 3, random), distinctIndices(5, 5, random)]).toEqual([
      [6, 3, 9],
      [9, 0, 5],
      [4, 2, 3, 1, 0],
    ]);
  });

  it('chooses each 2-subset of 4 equally often', () => {
    const random = generator(2020);
    const counts = new Map<string, number>();
    for (let draw = 0; draw < 6_000; draw++) {
      const key = distinctIndices(4, 2, random).sort().join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    expect(chiSquare([...counts.values()])).toBeLessThan(CRITICAL_001[5]);
  });

  it('puts every index in every position equally often, and every order of 3 (and of 4) equally often', () => {
    const random = generator(2021);
    for (const n of [3, 4]) {
      const orders = new Map<string, number>();
      const positions = Array.from({ length: n }, () => new Array<number>(n).fill(0));
      const draws = n === 3 ? 6_000 : 24_000;
      for (let draw = 0; draw < draws; draw++) {
        const out = distinctIndices(n, n, random);
        orders.set(out.join(','), (orders.get(out.join(',')) ?? 0) + 1);
        out.forEach((index, position) => positions[index][position]++);
      }
      // A shuffle that never leaves an index in place (Sattolo's) reaches only (n-1)! orders.
      expect(orders.size).toBe(n === 3 ? 6 : 24);
      expect(chiSquare([...orders.values()])).toBeLessThan(CRITICAL_001[n === 3 ? 5 : 23]);
      for (const row of positions) expect(chiSquare(row)).toBeLessThan(CRITICAL_001[n - 1]);
    }
  });

  it('orders a sample of 2 out of 5 uniformly: each of the 20 ordered pairs equally often', () => {
    const random = generator(2022);
    const counts = new Map<string, number>();
    for (let draw = 0; draw < 20_000; draw++) {
      const key = distinctIndices(5, 2, random).join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(20);
    // 19 degrees of freedom; p = 0.001 critical value.
    expect(chiSquare([...counts.values()])).toBeLessThan(43.82);
  });
});
