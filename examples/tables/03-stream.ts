import type { Table } from 'apache-arrow';
import { dict, tables } from 'laminate';

// Rows as JSON, times (epoch ms) as ISO text.
const show = (table: Table) =>
  table.toArray().forEach((row) => console.log(JSON.stringify({ ...row.toJSON(), ...(row.time !== undefined ? { time: new Date(row.time).toISOString() } : {}) })));

let now = Date.parse('2026-01-31T12:00:00Z');
const t = tables(dict(), { now: () => now });

// A stream of two shards keeping records for a day.
await t.create('stream', 'clicks', { shards: 2, retentionHours: 24 });

// One partition key always lands in one shard; each shard numbers its records.
await t.write('stream', 'clicks', [{ data: 'home' }, { data: 'cart' }], { partitionKey: 'user-1' });
now += 60_000;
const placed = (await t.execute('stream', 'clicks', 'put', { data: 'checkout', partition: 'user-1', clientInfo: 'web' })) as { shard: number; sequence: number };
console.log(placed);
await t.execute('stream', 'clicks', 'put', { data: 'home', partition: 'user-2' });

// The seek forms, in user-1's shard: from the earliest record, the latest, a sequence number; and by time in every shard.
const shard = placed.shard;
show(await t.read('stream', 'clicks', { seek: 'earliest', shard, columns: ['sequence', 'data'] }));
show(await t.read('stream', 'clicks', { seek: 'latest', shard }));
show(await t.read('stream', 'clicks', { seek: 'sequence', shard, sequence: 1, columns: ['sequence', 'data'] }));
show(await t.read('stream', 'clicks', { seek: 'time', start: 'now-30s', columns: ['data'] }));
