import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tableFromArrays } from 'apache-arrow';
import { arrow, file } from 'laminate';

// This file is both the consumer and, when started with a directory, the producer.
const [directory] = process.argv.slice(2);

if (directory) {
  // The producer: appends each record batch as it is made, then seals the key.
  const batches = arrow(file(directory));
  for (let i = 0; i < 4; i++) {
    await batches.append({ readings: tableFromArrays({ sensor: Int32Array.of(i, i, i), value: Float64Array.of(i, i + 0.5, i + 0.25) }) });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the next batch is not ready yet
  }
  await batches.seal('readings');
  await batches.close();
} else {
  // The consumer: starts the producer in another process and takes each batch as it lands.
  const store = file();
  const batches = arrow(store);
  const producer = fork(fileURLToPath(import.meta.url), [store.path]);
  const follower = batches.follow('readings');
  for await (const table of follower) {
    const values = table.getChild('value')!.toArray() as Float64Array;
    console.log(`sensor ${table.getChild('sensor')!.get(0)}: ${table.numRows} rows, sum ${values.reduce((a, b) => a + b, 0)}`);
  }
  console.log('ended by', follower.endedBy, 'at position', follower.position);
  await new Promise((resolve) => producer.on('exit', resolve));
  await batches.close();
}
