import type { Table } from 'apache-arrow';
import { dict, tables } from 'laminate';

// Rows as JSON, times (epoch ms) as ISO text.
const show = (table: Table) =>
  table.toArray().forEach((row) => console.log(JSON.stringify({ ...row.toJSON(), ...(row.time !== undefined ? { time: new Date(row.time).toISOString() } : {}) })));

// A fixed clock, so that now-relative times print the same on every run.
const now = Date.parse('2026-01-31T12:00:00Z');
const t = tables(dict(), { now: () => now });

// A time-series table is created with its sample rate.
await t.create('tsdb', 'cpu', { rate: '1/m' });

// String columns are labels, numeric ones metrics; labels may also be given for the whole write.
const minute = 60_000;
await t.write('tsdb', 'cpu', [
  { time: now - 90 * minute, host: 'a', usage: 20 },
  { time: now - 80 * minute, host: 'b', usage: 40 },
  { time: now - 30 * minute, host: 'a', usage: 60 },
  { time: now - 20 * minute, host: 'b', usage: NaN }, // a missing sample: skipped by every aggregator
  { time: now - 10 * minute, host: 'b', usage: 90 },
], { labels: { dc: 'eu' } });

// One-hour windows over the last two hours, per data centre.
show(await t.read('tsdb', 'cpu', { start: 'now-2h', end: 'now', step: '1h', aggregators: 'avg,max,count', groupBy: 'dc' }));

// Raw samples of one host, in time order.
show(await t.read('tsdb', 'cpu', { start: 'now-1h', filter: 'host == "b"' }));

// Deleting a time range.
await t.delete('tsdb', 'cpu', { start: 'now-100m', end: 'now-60m' });
show(await t.read('tsdb', 'cpu', { start: '2026-01-31T00:00:00Z', aggregators: ['count'] }));
