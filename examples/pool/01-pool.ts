import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EpisodePool } from 'laminate';

const dir = join(mkdtempSync(join(tmpdir(), 'pool-')), 'episodes');

// A new pool: the columns of each timestep (type, role) and the metadata every episode carries,
// here a fleet's: which vehicle, who drove, when the drive started, the weather. `time` names
// the field that time-range queries use.
const pool = await EpisodePool.open(dir, {
  schema: {
    columns: {
      obs: { type: 'float32', size: 4, role: 'state' }, // 4 numbers a step
      steer: { type: 'float32', role: 'action' },
      reward: { type: 'float32', role: 'reward' },
    },
    metadata: { vehicle: 'utf8', driver: 'utf8', start: 'timestamp', weather: 'utf8' },
    time: 'start',
  },
});

// Fill it: 200 episodes from 4 vehicles and 3 drivers, one every hour, 20 to 59 steps each.
// An episode is an object of column → array (or an Arrow Table); store() resolves with its id
// once the episode and its index entry are on disk.
const stored: Promise<number>[] = [];
for (let e = 0; e < 200; e++) {
  const steps = 20 + ((e * 7) % 40);
  const obs = new Float32Array(steps * 4).map((_, i) => e + i / 1000);
  const steer = new Float32Array(steps).map((_, s) => Math.sin(e + s));
  const reward = new Float32Array(steps).fill(e % 10);
  stored.push(pool.store({ obs, steer, reward }, { vehicle: `car-${e % 4}`, driver: ['ann', 'bo', 'cy'][e % 3], start: new Date(Date.UTC(2024, 4, 1) + e * 3_600_000), weather: e % 5 === 0 ? 'rain' : 'dry' }));
}
const ids = await Promise.all(stored);
console.log('stored', ids.length, 'episodes, ids', ids[0], 'to', ids[ids.length - 1]);

// find: equality, set membership and a time range on the start time.
console.log('car-2:', (await pool.find({ vehicle: 'car-2' })).length);
console.log('ann or bo in the rain:', (await pool.find({ driver: ['ann', 'bo'], weather: 'rain' })).length);
const day = await pool.find({ start: { from: new Date('2024-05-02T00:00Z'), to: new Date('2024-05-03T00:00Z') } });
console.log('started on May 2:', day.length, 'first:', day[0]);

// sample: training batches of 8 episodes drawn uniformly, one Arrow table each (one row per step).
for (let batch = 0; batch < 3; batch++) {
  const table = await pool.sample(8, { weather: 'dry' }, { seed: batch });
  const episodes = [...new Set(table.getChild('episode')!.toArray())];
  console.log(`batch ${batch}: ${table.numRows} steps of episodes ${episodes.join(', ')}`);
}
const table = await pool.sample(2, { vehicle: 'car-1' }, { seed: 42 });
console.log(table.schema.fields.map((f) => `${f.name}: ${f.type}`).join(', '));
const row = table.get(0)!.toJSON();
console.log({ ...row, start: new Date(row.start as number), obs: [...(row.obs as Float32Array)] });
// Columns by role, and each column as one typed array, ready for a tensor.
console.log((await pool.columns('state')).join(), table.getChild('reward')!.toArray().constructor.name, table.getChild('reward')!.length);

await pool.close();
rmSync(join(dir, '..'), { recursive: true });
