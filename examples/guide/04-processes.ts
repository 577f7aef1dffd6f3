import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { file, open, type StoreSpec } from 'laminate';

// This file is both the parent and, when started with a spec, one of the workers.
const [spec, worker] = process.argv.slice(2);

if (spec) {
  // A worker rebuilds the store from its JSON description and appends to the same directory.
  const store = open(JSON.parse(spec) as StoreSpec);
  for (let i = 0; i < 250; i++) {
    // One append call (one lock) per batch of keys.
    await store.append({ log: Buffer.from(`${worker}:${i};`), [`count-${worker}`]: Buffer.from('+') });
  }
  await store.close();
} else {
  const store = file(); // the parent owns the (temporary) directory
  const description = JSON.stringify(store.describe());
  const workers = ['a', 'b', 'c', 'd'].map(
    (name) =>
      new Promise<void>((resolve, reject) => {
        fork(fileURLToPath(import.meta.url), [description, name]).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${name} exited with ${code}`))));
      }),
  );
  await Promise.all(workers);

  const log = String(await store.get('log')).split(';').filter(Boolean);
  console.log(log.length, 'values in "log", none lost or torn:', log.every((entry) => /^[a-d]:\d+$/.test(entry)));
  // Each worker's values keep their order.
  const inOrder = ['a', 'b', 'c', 'd'].every((name) =>
    log.filter((entry) => entry.startsWith(name)).every((entry, i) => entry === `${name}:${i}`),
  );
  console.log('each worker in order:', inOrder);
  console.log((await store.keys()).sort());
  await store.close();
}
