// One laminate stack in a fresh process, so no stack inherits another's heap
// or warmed-up code. run.ts starts it; it prints its measurements as JSON.
//   worker.ts <stack> <bench dir> <workload ids> <repeat> <quick 0|1>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { settle } from './disk.js';
import { runLaminate } from './laminate.js';
import { type Measurement, best } from './measure.js';
import { type Expected, workloads } from './workloads.js';

const [stack, root, ids, repeat, quick] = process.argv.slice(2);
const corpus = readFileSync(join(root, 'corpus.bin'));
const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8')) as Record<string, Expected>;
const results: Measurement[] = [];
for (const w of workloads(quick === '1').filter((w) => ids.split(',').includes(w.id))) {
  let kept: Measurement | undefined;
  for (let r = 0; r < Number(repeat); r++) {
    settle();
    kept = best(kept, await runLaminate(stack, w, corpus, expected[w.id], join(root, `store-${stack}`)));
  }
  results.push(kept!);
}
process.stdout.write(JSON.stringify(results) + '\n');
