// Profiles log() on partd's workloads (100 keys per append, then a get of
// every key), the append and get phases apart:
//   npx tsx --conditions=source benchmarks/profile-log.ts [a|b|c] [--prof DIR]
// writes DIR/log-<w>-append.cpuprofile and …-get.cpuprofile (Chrome
// DevTools or speedscope open them); without --prof it only times the phases.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '@laminate/core';
import { phaseProfiler } from './phase-profiler.js';
import { batchOf, keyNames, makeCorpus, workloads } from './workloads.js';

const id = process.argv[2] ?? 'a';
const profDir = process.argv.includes('--prof') ? process.argv[process.argv.indexOf('--prof') + 1] : undefined;
const w = workloads(false).find((x) => x.id === id)!;
const corpus = makeCorpus();
const batches = Array.from({ length: w.calls }, (_, c) => batchOf(w, corpus, c));
const { phase, close: closeProfiler } = await phaseProfiler(`log-${id}`, profDir);

const dir = mkdtempSync(join(tmpdir(), 'laminate-profile-log-'));
try {
  const store = log(dir, process.argv.includes('--no-cache') ? { readCacheBytes: 0 } : {});
  const append = await phase('append', async () => {
    for (const batch of batches) await store.append(batch);
  });
  const get = await phase('get', async () => {
    for (const key of keyNames(w)) await store.get(key);
  });
  const values = w.calls * w.keysPerCall;
  console.log(`(${id}) log() append ${Math.round((values / append) * 1e3)} values/s, get ${Math.round((values / get) * 1e3)} values/s`);
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
  closeProfiler();
}
