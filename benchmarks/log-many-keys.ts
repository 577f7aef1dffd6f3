// log() against partd.File on many small keys: KEYS keys (100,000 by
// default) × 10 values of 100 B, appended 10,000 keys a call in one process,
// then one get per key; the same bytes through both, every read checked.
//   npx tsx --conditions=source benchmarks/log-many-keys.ts [--keys N] [--repeat N]
// Prints one JSON line per store and the ratios. partd.File makes a file
// per key, so this takes minutes at 100,000 keys.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Measurement, best } from './measure.js';
import { runStore } from './laminate.js';
import { partdInfo, runPartd } from './python.js';
import { CORPUS_BYTES, STRIDE, type Workload, expected, makeCorpus } from './workloads.js';

const flag = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const keys = flag('--keys', 100_000);
const repeat = flag('--repeat', 1);
const keysPerCall = Math.min(keys, 10_000);
const w: Workload = { id: 'd', title: `${keys.toLocaleString('en')} keys × 10 values of 100 B, ${keysPerCall.toLocaleString('en')} keys per append`, keys, valueBytes: 100, keysPerCall, calls: (keys * 10) / keysPerCall };

const root = mkdtempSync(join(tmpdir(), 'laminate-bench-many-keys-'));
try {
  const corpus = makeCorpus(CORPUS_BYTES);
  writeFileSync(join(root, 'corpus.bin'), corpus);
  const want = expected(w, corpus);
  const config = join(root, 'config-d.json');
  writeFileSync(config, JSON.stringify({ stride: STRIDE, workloads: [w], expected: { d: want } }));
  let log: Measurement | undefined;
  for (let r = 0; r < repeat; r++) log = best(log, await runStore('log', w, corpus, want, join(root, 'log')));
  const rows: Measurement[] = [log!];
  const info = partdInfo();
  if ('error' in info) console.error(`partd is not installed (${info.error}): no partd.File row`);
  else {
    const partd = runPartd('File', root, config, repeat);
    if ('error' in partd) console.error(`partd.File failed: ${partd.error}`);
    else rows.push(...partd);
  }
  for (const m of rows) console.log(JSON.stringify({ store: m.store, workload: w.title, verified: m.verified, error: m.error, appendPerSecond: Math.round(m.values / m.appendSeconds), getPerSecond: Math.round(m.values / m.getSeconds) }));
  if (rows.length === 2 && rows.every((m) => m.verified)) {
    const [ours, theirs] = rows;
    console.log(JSON.stringify({ appendRatio: +(theirs.appendSeconds / ours.appendSeconds).toFixed(1), getRatio: +(theirs.getSeconds / ours.getSeconds).toFixed(2) }));
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
