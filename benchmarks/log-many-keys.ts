// log() against partd.File on many small keys: KEYS keys (100,000 by
// default) × 10 values of 100 B, appended 10,000 keys a call in one process,
// then one get per key; the same bytes through both, every read checked.
//   npx tsx --conditions=source benchmarks/log-many-keys.ts [--keys N] [--repeat N]
// or `npm run bench -- --many-keys` (a tenth of the keys without --full).
// partd.File makes a file per key, so this takes minutes at 100,000 keys.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Measurement, best } from './measure.js';
import { runStore } from './laminate.js';
import { partdInfo, runPartd } from './python.js';
import { CORPUS_BYTES, STRIDE, type Workload, expected, makeCorpus } from './workloads.js';

/** Runs the comparison in `root` (which it leaves as it found it); a markdown table and the ratios. */
export async function manyKeysBench(root: string, opts: { keys: number; repeat: number; python: boolean }): Promise<string> {
  const keysPerCall = Math.min(opts.keys, 10_000);
  const w: Workload = { id: 'd', title: `${opts.keys.toLocaleString('en')} keys × 10 values of 100 B, ${keysPerCall.toLocaleString('en')} keys per append`, keys: opts.keys, valueBytes: 100, keysPerCall, calls: (opts.keys * 10) / keysPerCall };
  const dir = join(root, 'many-keys');
  mkdirSync(dir, { recursive: true });
  try {
    const corpus = makeCorpus(CORPUS_BYTES);
    writeFileSync(join(dir, 'corpus.bin'), corpus);
    const want = expected(w, corpus);
    const config = join(dir, 'config-d.json');
    writeFileSync(config, JSON.stringify({ stride: STRIDE, workloads: [w], expected: { d: want } }));
    let log: Measurement | undefined;
    for (let r = 0; r < opts.repeat; r++) log = best(log, await runStore('log', w, corpus, want, join(dir, 'log')));
    const rows: Measurement[] = [log!];
    const notes: string[] = [];
    const info = opts.python ? partdInfo() : { error: 'skipped (--no-python)' };
    if ('error' in info) notes.push(`no partd.File row: ${info.error}`);
    else {
      const partd = runPartd('File', dir, config, opts.repeat);
      if ('error' in partd) notes.push(`partd.File failed: ${partd.error}`);
      else rows.push(...partd);
    }
    const lines = [`${w.title}`, '| store | append values/s | get values/s | reads |', '|:--|--:|--:|:--|'];
    for (const m of rows) lines.push(`| ${m.store} | ${Math.round(m.values / m.appendSeconds)} | ${Math.round(m.values / m.getSeconds)} | ${m.verified ? 'verified' : `FAILED: ${m.error}`} |`);
    if (rows.length === 2 && rows.every((m) => m.verified)) {
      const [ours, theirs] = rows;
      lines.push('', `log() against partd.File: ${(theirs.appendSeconds / ours.appendSeconds).toFixed(1)}× append, ${(theirs.getSeconds / ours.getSeconds).toFixed(2)}× get`);
    }
    return [...lines, ...notes].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flag = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
  const root = mkdtempSync(join(tmpdir(), 'laminate-bench-many-keys-'));
  try {
    console.log(await manyKeysBench(root, { keys: flag('--keys', 100_000), repeat: flag('--repeat', 1), python: !process.argv.includes('--no-python') }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
