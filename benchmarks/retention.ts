// npx tsx --conditions=source benchmarks/retention.ts [--records N]
//
// What consumer positions and retention cost a follower of msgpack(file()),
// as ratios against a plain follower in the same process:
// - backlog: N records of 1 KiB stored first, then taken by one consumer;
//   committing after each record, committing and trimming after each (trim:
//   true: each trim copies what the consumer has not taken yet), and trimming
//   every 100 records.
// - live: a record appended, taken and committed (and trimmed) in turn, so a
//   trim copies almost nothing: the cost of the commit and the trim themselves.
import { performance } from 'node:perf_hooks';
import { file, msgpack } from 'laminate';

const recordsArg = process.argv.indexOf('--records');
const N = recordsArg > 0 ? Number(process.argv[recordsArg + 1]) : 1000;
const payload = 'x'.repeat(1000);

type Mode = 'follow' | 'commit' | 'commit+trim' | 'trim every 100';

async function backlog(mode: Mode): Promise<number> {
  const store = msgpack(file());
  for (let i = 0; i < N; i++) await store.append({ k: [i, payload] });
  await store.seal('k');
  const started = performance.now();
  const follower = store.follow('k', mode === 'follow' ? {} : { consumer: 'c', trim: mode === 'commit+trim' });
  let n = 0;
  for await (const _ of follower) {
    n++;
    if (mode === 'commit' || mode === 'commit+trim') await follower.commit();
    else if (mode === 'trim every 100' && n % 100 === 0) {
      await follower.commit();
      await store.trim('k');
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (n !== N) throw new Error(`took ${n} of ${N}`);
  await store.close();
  return N / seconds;
}

async function live(mode: Mode): Promise<number> {
  const store = msgpack(file());
  const follower = store.follow('k', mode === 'follow' ? {} : { consumer: 'c', trim: mode === 'commit+trim' });
  const values = follower[Symbol.asyncIterator]();
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    await store.append({ k: [i, payload] });
    const { value } = await values.next();
    if ((value as unknown[])[0] !== i) throw new Error(`expected ${i}`);
    if (mode !== 'follow') await follower.commit();
  }
  const seconds = (performance.now() - started) / 1000;
  await values.return?.();
  await store.close();
  return N / seconds;
}

/** Best of three runs, after one to warm up: the machine is shared, and the best run is the least disturbed. */
async function best(run: () => Promise<number>): Promise<number> {
  await run();
  let top = 0;
  for (let i = 0; i < 3; i++) top = Math.max(top, await run());
  return top;
}

console.log(`| case | consumer | records/s | of plain follow |`);
console.log(`|---|---|---:|---:|`);
for (const [name, bench, modes] of [
  ['backlog', backlog, ['follow', 'commit', 'commit+trim', 'trim every 100']],
  ['live', live, ['follow', 'commit', 'commit+trim']],
] as const) {
  let plain = 0;
  for (const mode of modes as readonly Mode[]) {
    const rate = await best(() => bench(mode));
    if (mode === 'follow') plain = rate;
    console.log(`| ${name} (${N} × 1 KiB) | ${mode} | ${Math.round(rate)} | ${Math.round((rate / plain) * 100)}% |`);
  }
}
