import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer, catalog, dict, file, log, msgpack } from 'laminate';

const root = mkdtempSync(join(tmpdir(), 'catalog-'));

// The catalog and its objects live in one log() store; any store of bytes would do.
const shared = log(join(root, 'catalog'));
const cat = catalog(shared);

// A dataset is named by what it is made from (menu) and how (config).
const dataset = await cat.registerDataset({ menu: { source: 'orders', days: ['2024-03-01'] }, config: { partitions: 4, by: 'user' } });

// Job 1 shuffles 10,000 orders by user into 4 partitions, through a stack that
// keeps 256 KB in memory and spills the rest to disk.
const job = await cat.newJob(dataset);
const spill = buffer(dict(), file(join(root, 'shuffle')), { availableMemory: 256e3 });
const shuffle = msgpack(spill);
for (let batch = 0; batch < 10; batch++) {
  const parts: Record<string, object[]> = {};
  for (let i = batch * 1000; i < (batch + 1) * 1000; i++) {
    const order = { id: i, user: `u${i % 97}`, amount: (i * 37) % 1000 };
    (parts[`p${i % 97 % 4}`] ??= []).push(order);
  }
  await shuffle.append(parts);
}

// Each partition's bytes (msgpack frames, spilled part first) stream into the
// catalog as an object named by their SHA-256, recorded as a file of the job.
for (let p = 0; p < 4; p++) {
  const partition = await cat.newPartition(dataset, `p${p}`);
  const id = await cat.registerContent(spill.iter(`p${p}`), { kind: 'file', dataset, job, partition, name: `orders/p${p}.msgpack` });
  console.log(`job 1 wrote ${partition}: object ${id.slice(0, 12)}…`);
}
await cat.registerContent(Buffer.from(JSON.stringify({ orders: 10_000 })), { kind: 'log', dataset, job, name: 'job-1.log' });
await shuffle.close();
await cat.close();

// A later job, in another process as well as here: it finds the partitions
// through the catalog and reads them, each checked against its id.
const later = catalog(log(join(root, 'catalog')));
console.log('partitions:', (await later.listPartitions(dataset)).join(' '));
let total = 0;
for (const record of await later.list({ dataset, kind: 'file', suffix: '.msgpack' })) {
  const raw = dict();
  for await (const chunk of later.open(record.id)) await raw.append({ [record.partition!]: chunk });
  const orders = (await msgpack(raw).get(record.partition!)) as { amount: number }[];
  total += orders.length;
  console.log(`${record.partition}: ${orders.length} orders, ${record.size} bytes, from ${record.job}`);
}
console.log(`read back ${total} orders`);
console.log('logs:', (await later.list({ dataset, kind: 'log' })).map((r) => r.name).join(' '));

// An object no record names (a scratch put) goes at the next gc().
await later.objects.put(Buffer.from('scratch'));
console.log('gc removed', await later.gc());
await later.close();
rmSync(root, { recursive: true });
