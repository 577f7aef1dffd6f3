// One measurement in a fresh process, so no row inherits another's heap or
// warmed-up code, and the process's peak RSS is the row's own. run.ts starts
// it (inChild); it prints its result as one line of JSON.
//   worker.ts store <stack or peer> <bench dir> <workload id> <repeat> <quick 0|1>
//   worker.ts shuffle <store> <bench dir> <repeat> <quick 0|1>
//   worker.ts memory <bench dir> <quick 0|1> [budget MiB]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { settle } from './disk.js';
import { runStore } from './laminate.js';
import { type Measurement, best } from './measure.js';
import { memoryRun } from './memory.js';
import { shuffleRow, shuffleShape } from './shuffle.js';
import { type Expected, workloads } from './workloads.js';

/** The row, with the kernel's high-water mark for this process (maxRSS is in KiB). */
function withPeak(m: Measurement): Measurement {
  return { ...m, peakRss: process.resourceUsage().maxRSS * 1024, peakRssExact: true };
}

const [mode, ...args] = process.argv.slice(2);
let result: unknown;
if (mode === 'store') {
  const [name, root, id, repeat, quick] = args;
  const corpus = readFileSync(join(root, 'corpus.bin'));
  const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8')) as Record<string, Expected>;
  const w = workloads(quick === '1').find((w) => w.id === id)!;
  let kept: Measurement | undefined;
  for (let r = 0; r < Number(repeat); r++) {
    settle();
    kept = best(kept, await runStore(name, w, corpus, expected[w.id], join(root, `store-${name}`)));
  }
  result = withPeak(kept!);
} else if (mode === 'shuffle') {
  const [store, root, repeat, quick] = args;
  result = withPeak(await shuffleRow(store, root, shuffleShape(quick === '1'), Number(repeat)));
} else if (mode === 'memory') {
  const [root, quick, budgetMiB] = args;
  result = await memoryRun(root, readFileSync(join(root, 'corpus.bin')), quick === '1', budgetMiB ? Number(budgetMiB) * 2 ** 20 : undefined);
} else {
  throw new Error(`worker.ts: unknown mode ${mode}`);
}
process.stdout.write(JSON.stringify(result) + '\n');
