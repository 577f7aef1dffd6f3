import { describe, expect, it } from 'vitest';
import { dict, file } from '@laminate/core';
import { seededRandom } from '@laminate/core/layer';
import { rejection, tempDirs } from '@laminate/core/testing';
import { tables } from '../src/index.js';
import { rows } from './helpers.js';

const tmp = tempDirs('laminate-tables-tsdb-');
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 0, 31, 12);

interface Sample {
  time: number;
  host: string;
  dc: string;
  cpu: number;
}

/** Seeded samples over 10 hours for 4 hosts in 2 dcs: shuffled (out of order), some NaN, and two hours with no samples at all. */
function samples(seed: number, n: number): Sample[] {
  const random = seededRandom(seed);
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    let time = NOW - 10 * HOUR + Math.floor(random() * 10 * HOUR);
    // Hours 3 and 7 stay empty.
    const hour = Math.floor((time - (NOW - 10 * HOUR)) / HOUR);
    if (hour === 3 || hour === 7) time += HOUR;
    const h = Math.floor(random() * 4);
    const cpu = random() < 0.05 ? NaN : Math.round(random() * 10_000) / 100;
    out.push({ time, host: `h${h}`, dc: `dc${h % 2}`, cpu });
  }
  return out;
}

type Agg = 'avg' | 'max' | 'min' | 'sum' | 'count' | 'last';

/** The aggregation computed the obvious way: bucket every sample, then fold each bucket. */
function bruteForce(data: Sample[], start: number, end: number, step: number, aggs: Agg[], groupBy: ('host' | 'dc')[]): Record<string, unknown>[] {
  const buckets = new Map<string, Sample[]>();
  for (const s of data) {
    if (s.time < start || s.time > end || Number.isNaN(s.cpu)) continue;
    const window = step === Infinity ? start : start + Math.floor((s.time - start) / step) * step;
    const key = JSON.stringify([...groupBy.map((g) => s[g]), window]);
    if (!buckets.has(key)) buckets.set(key, []);
    buckets.get(key)!.push(s);
  }
  const out = [...buckets].map(([key, list]) => {
    const parsed = JSON.parse(key) as unknown[];
    const row: Record<string, unknown> = { time: parsed[parsed.length - 1], metric: 'cpu' };
    groupBy.forEach((g, i) => (row[g] = parsed[i]));
    const values = list.map((s) => s.cpu);
    const latest = list.reduce((a, b) => (b.time >= a.time ? b : a));
    for (const a of aggs) {
      row[a] =
        a === 'avg'
          ? values.reduce((x, y) => x + y, 0) / values.length
          : a === 'sum'
            ? values.reduce((x, y) => x + y, 0)
            : a === 'count'
              ? values.length
              : a === 'min'
                ? Math.min(...values)
                : a === 'max'
                  ? Math.max(...values)
                  : latest.cpu;
    }
    return row;
  });
  const label = (r: Record<string, unknown>) => groupBy.map((g) => String(r[g])).join('\u0000');
  return out.sort((a, b) => (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : (a.time as number) - (b.time as number)));
}

function close(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => {
    expect(Object.keys(row).sort()).toEqual(Object.keys(expected[i]).sort());
    for (const [k, v] of Object.entries(expected[i])) {
      if (typeof v === 'number') expect(row[k] as number, `${k} of row ${i}`).toBeCloseTo(v, 6);
      else expect(row[k], `${k} of row ${i}`).toBe(v);
    }
  });
}

describe('tsdb', () => {
  it('create needs a rate; write needs a created table', async () => {
    const t = tables(dict());
    expect((await rejection(t.create('tsdb', 'cpu'))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.create('tsdb', 'cpu', { rate: 'fast' }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.write('tsdb', 'cpu', [{ time: 1, cpu: 1 }]))).code).toBe('ERR_NOT_FOUND');
    await t.create('tsdb', 'cpu', { rate: '1/s' });
    await t.create('tsdb', 'cpu', { rate: '1/s' });
    expect((await rejection(t.create('tsdb', 'cpu', { rate: '1/m' }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.write('tsdb', 'cpu', [{ at: 1, cpu: 1 }]))).code).toBe('ERR_SCHEMA');
    expect((await rejection(t.execute('tsdb', 'cpu', 'anything'))).code).toBe('ERR_NOT_SUPPORTED');
  });

  it('reads raw samples in time order per series, with ISO, Date and now-relative times', async () => {
    const t = tables(dict(), { now: () => NOW });
    await t.create('tsdb', 'm', { rate: '1/m' });
    await t.write(
      'tsdb',
      'm',
      [
        { time: new Date(NOW - 2 * HOUR), host: 'b', cpu: 2, mem: 20 },
        { time: NOW - 30 * 60_000, host: 'a', cpu: 3, mem: 30 },
      ],
      { labels: { dc: 'x' } },
    );
    await t.write('tsdb', 'm', [{ time: '2026-01-31T09:00:00Z', host: 'a', cpu: 1, mem: 10 }], { labels: { dc: 'x' } });
    const all = rows(await t.read('tsdb', 'm', { start: 'now-1d', end: 'now', columns: ['cpu'] }));
    expect(all).toEqual([
      { time: NOW - 3 * HOUR, metric: 'cpu', dc: 'x', host: 'a', value: 1 },
      { time: NOW - 30 * 60_000, metric: 'cpu', dc: 'x', host: 'a', value: 3 },
      { time: NOW - 2 * HOUR, metric: 'cpu', dc: 'x', host: 'b', value: 2 },
    ]);
    expect(rows(await t.read('tsdb', 'm', { start: 'now-1h', filter: 'host == "a"' }))).toEqual([
      { time: NOW - 30 * 60_000, metric: 'cpu', dc: 'x', host: 'a', value: 3 },
      { time: NOW - 30 * 60_000, metric: 'mem', dc: 'x', host: 'a', value: 30 },
    ]);
    expect((await rejection(t.read('tsdb', 'm', { aggregators: 'median' }))).code).toBe('ERR_INVALID_OPTION');
    expect((await rejection(t.read('tsdb', 'm', { step: '1h' }))).code).toBe('ERR_INVALID_OPTION');
  });

  it('aggregates by step like a brute-force computation (empty windows, NaN, out-of-order samples, groupBy)', async () => {
    const t = tables(dict(), { now: () => NOW });
    await t.create('tsdb', 'cpu', { rate: '1/s' });
    const data = samples(42, 3000);
    // Written in three batches, in shuffled time order.
    for (let i = 0; i < 3; i++) await t.write('tsdb', 'cpu', data.slice(i * 1000, (i + 1) * 1000));
    const aggs: Agg[] = ['avg', 'max', 'min', 'sum', 'count', 'last'];
    const start = NOW - 10 * HOUR + 17 * 60_000;
    const end = NOW - 30 * 60_000;
    const perHost = rows(await t.read('tsdb', 'cpu', { start, end, step: '1h', aggregators: aggs, groupBy: ['host'] }));
    close(perHost, bruteForce(data, start, end, HOUR, aggs, ['host']));
    const perDc = rows(await t.read('tsdb', 'cpu', { start, end, step: '2h', aggregators: 'avg,count', groupBy: 'dc' }));
    close(perDc, bruteForce(data, start, end, 2 * HOUR, ['avg', 'count'], ['dc']));
    const perSeries = rows(await t.read('tsdb', 'cpu', { start, end, step: '30m', aggregators: ['max', 'last'] }));
    close(perSeries, bruteForce(data, start, end, 30 * 60_000, ['max', 'last'], ['dc', 'host']));
    // Windows with no samples give no row: none lies in the empty fourth hour.
    const empty = NOW - 7 * HOUR;
    expect(perSeries.filter((r) => (r.time as number) >= empty && (r.time as number) + 30 * 60_000 <= empty + HOUR)).toEqual([]);
    expect(perSeries.some((r) => (r.time as number) >= empty + HOUR)).toBe(true);
    // Without start (from the epoch: too many windows to cover all, so the windows holding samples are found first).
    const fromEpoch = rows(await t.read('tsdb', 'cpu', { end, step: '1h', aggregators: ['sum', 'min'], groupBy: 'host' }));
    close(fromEpoch, bruteForce(data, 0, end, HOUR, ['sum', 'min'], ['host']));
    // Without a step, one window from start.
    const total = rows(await t.read('tsdb', 'cpu', { start, end, aggregators: ['count'], groupBy: [] }));
    close(total, bruteForce(data, start, end, Infinity, ['count'], []));
  });

  it('deletes a time range from every series, then the whole table', async () => {
    const dir = tmp();
    const store = file(dir);
    const t = tables(store, { now: () => NOW });
    await t.create('tsdb', 'cpu', { rate: '1/s' });
    await t.write('tsdb', 'cpu', [
      { time: NOW - 3 * HOUR, host: 'a', cpu: 1 },
      { time: NOW - 2 * HOUR, host: 'a', cpu: 2 },
      { time: NOW - 1 * HOUR, host: 'b', cpu: 3 },
      { time: NOW, host: 'b', cpu: 4 },
    ]);
    await t.delete('tsdb', 'cpu', { start: 'now-2h', end: 'now-1h' });
    expect(rows(await t.read('tsdb', 'cpu', { columns: 'cpu' })).map((r) => r.value)).toEqual([1, 4]);
    const reopened = file(dir);
    expect(rows(await tables(reopened, { now: () => NOW }).read('tsdb', 'cpu')).map((r) => r.value)).toEqual([1, 4]);
    await reopened.close();
    await t.delete('tsdb', 'cpu');
    expect((await rejection(t.read('tsdb', 'cpu'))).code).toBe('ERR_NOT_FOUND');
    expect(await store.keys()).toEqual([]);
    await store.close();
  });
});
