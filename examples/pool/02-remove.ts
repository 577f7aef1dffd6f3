import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EpisodePool, arrow, client, file, isLaminateError, lz4, serve } from 'laminate';

const dir = join(mkdtempSync(join(tmpdir(), 'pool-')), 'episodes');
const schema = {
  columns: { speed: { type: 'float32', role: 'state' } },
  metadata: { vehicle: 'utf8', driver: 'utf8', start: 'timestamp' },
  time: 'start',
} as const;
const episode = (n: number) => ({ speed: new Float32Array(10).fill(n) });
const meta = (n: number) => ({ vehicle: `car-${n % 2}`, driver: 'ann', start: Date.UTC(2024, 0, 1 + n) });

// Any stack works: here lz4 instead of zstd, and no buffer. Small segments, to show compaction.
const pool = new EpisodePool(arrow(lz4(file(dir))), { schema, segmentBytes: 4096 });
for (let n = 0; n < 40; n++) await pool.store(episode(n), meta(n));
const segments = () => readdirSync(join(dir, 'pool%d', 'segment%d')).length;
console.log(pool.size, 'episodes in', segments(), 'segment keys');

// remove → how many; segments left empty go at once, the rest wait for compact().
console.log('removed', await pool.remove({ start: { to: Date.UTC(2024, 0, 21) } }), 'then', segments(), 'segment keys');
console.log('removed', await pool.remove({ vehicle: 'car-1' }));
console.log('compact:', await pool.compact(), 'then', segments(), 'segment keys');
await pool.close();

// Reopening finds exactly what was left (the schema is stored with the pool).
const again = new EpisodePool(arrow(lz4(file(dir))));
console.log('reopened:', (await again.find()).map((e) => e.id).join(' '));

// An episode that does not fit the schema is refused, naming the problem; nothing is stored.
try {
  await again.store({ speed: new Float32Array(3), brake: new Float32Array(3) }, { ...meta(0), weather: 'dry' });
} catch (error) {
  if (isLaminateError(error)) console.log(error.code, error.message);
}
await again.close();

// Several processes or machines share one pool through serve() and client():
// the server holds the bytes, each client stacks the same layers on its side.
const shared = file(dir);
const server = await serve(shared);
const remote = new EpisodePool(arrow(lz4(client(server.address))));
console.log('through client():', await remote.count(), 'episodes; stored id', await remote.store(episode(99), meta(99)));
await remote.close();
await server.close();
await shared.close();
rmSync(join(dir, '..'), { recursive: true });
