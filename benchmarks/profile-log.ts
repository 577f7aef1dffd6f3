// Profiles log() on partd's workloads (100 keys per append, then a get of
// every key), the append and get phases apart:
//   npx tsx --conditions=source benchmarks/profile-log.ts [a|b|c] [--prof DIR]
// writes DIR/log-<w>-append.cpuprofile and …-get.cpuprofile (Chrome
// DevTools or speedscope open them); without --prof it only times the phases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '@laminate/core';
import { batchOf, keyNames, makeCorpus, workloads } from './workloads.js';

const id = process.argv[2] ?? 'a';
const profDir = process.argv.includes('--prof') ? process.argv[process.argv.indexOf('--prof') + 1] : undefined;
const w = workloads(false).find((x) => x.id === id)!;
const corpus = makeCorpus();
const batches = Array.from({ length: w.calls }, (_, c) => batchOf(w, corpus, c));
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });

async function phase(name: string, fn: () => Promise<void>): Promise<number> {
  if (profDir) await session.post('Profiler.start');
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  if (profDir) writeFileSync(`${profDir}/log-${id}-${name}.cpuprofile`, JSON.stringify((await session.post('Profiler.stop')).profile));
  return ms;
}

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
  session.disconnect();
}
