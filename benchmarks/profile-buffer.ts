// Profiles buffer(dict(), file(), 64 MiB) on partd's workloads (100 keys per
// append, then a get of every key), the append and get phases apart:
//   npx tsx --conditions=source benchmarks/profile-buffer.ts [a|b|c] [--transfer] [--view] [--prof DIR]
// writes DIR/buffer-<w>-append.cpuprofile and …-get.cpuprofile (open them in
// Chrome DevTools or speedscope); the same profiler as node --cpu-prof, but
// only over the measured phases, not start-up or the corpus.
import { buffer, dict, file } from '@laminate/core';
import { phaseProfiler } from './phase-profiler.js';
import { batchOf, keyNames, makeCorpus, workloads } from './workloads.js';

const id = process.argv[2] ?? 'a';
const transfer = process.argv.includes('--transfer');
/** Gets through getView(), into the store's reused memory. */
const view = process.argv.includes('--view');
const profDir = process.argv.includes('--prof') ? process.argv[process.argv.indexOf('--prof') + 1] : undefined;
const w = workloads(false).find((x) => x.id === id)!;
const corpus = makeCorpus();
const batches = Array.from({ length: w.calls }, (_, c) => batchOf(w, corpus, c));
const { phase, close: closeProfiler } = await phaseProfiler(`buffer-${id}`, profDir);

const store = buffer(dict(), file(), { availableMemory: 64 * 2 ** 20 });
const append = await phase('append', async () => {
  for (const batch of batches) await store.append(batch, transfer ? { transfer: true } : undefined);
});
const get = await phase('get', async () => {
  for (const key of keyNames(w)) await (view ? store.getView(key) : store.get(key));
});
const values = w.calls * w.keysPerCall;
console.log(`(${id})${transfer ? ' transfer' : ''}${view ? ' getView' : ''} append ${Math.round((values / append) * 1e3)} values/s, get ${Math.round((values / get) * 1e3)} values/s`);
await store.close();
closeProfiler();
