// npm run bench [-- --full] [--repeat N (default 1, 3 with --full)] [--only file,buffer,…] [--workloads a,b,c] [--no-python] [--no-shuffle] [--no-memory] [--no-arrow] [--no-typed] [--typed-only] [--no-compression] [--compression-only] [--no-network] [--network-only] [--no-pool] [--pool-only] [--no-startup] [--startup-only] [--cas-only] [--redis] [--redis-only] [--dir PATH] [--out FILE] [--render RUN.json]
//
// Runs workloads (a), (b) and (c) through every laminate stack, through the
// Node.js peers (LevelDB, LMDB, appendFile), through Python partd and against
// dd; then the shuffle demo, buffer()'s memory budget, typed arrays, Arrow
// tables, compression, network clients, the episode pool and the start-up of
// the laminate command. Checks every
// read, prints the tables and writes docs/benchmarks.md, docs/benchmarks.json
// and the charts in docs/benchmarks/ (or FILE, FILE's .json and FILE's
// folder with --out). The default is the quick mode (a quarter of the data,
// one run each); --full measures everything at full size, best of 3.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arrowBench } from './arrow.js';
import { compressionBench } from './compression.js';
import { networkBench, networkMarkdown } from './network.js';
import { poolBench, poolMarkdown } from './pool.js';
import { redisBench, redisMarkdown } from './redis.js';
import { typedBench } from './typed-arrays.js';
import { startupBench, startupMarkdown } from './startup.js';
import { dd, ddBlocks, ddCachedRead, settle } from './disk.js';
import { charts } from './charts-of-results.js';
import type { MemoryResults } from './memory.js';
import { NODE_PEERS } from './peers.js';
import { SHUFFLE_STORES, shuffleLabel, shuffleShape } from './shuffle.js';
import { manyKeysBench } from './log-many-keys.js';
import { STACKS } from './laminate.js';
import { lockCost } from './lock.js';
import { load, machine } from './machine.js';
import type { Measurement } from './measure.js';
import { INSTALL, PEERS, PYTHON, type PartdCosts, type PartdStack, partdCosts, partdInfo, runPartd } from './python.js';
import { primitives } from './primitives.js';
import { type Results, fromJson, markdown, summary, toJson } from './report.js';
import { CORPUS_BYTES, STRIDE, expected, makeCorpus, totalBytes, workloads } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Args {
  /** The default: a quarter of the data, one run per measurement. --full turns it off. */
  quick: boolean;
  repeat: number;
  only?: string[];
  workloads?: string[];
  python: boolean;
  /** Also run the shuffle demo through laminate and the Node.js peers (benchmarks/shuffle.ts). */
  shuffle: boolean;
  /** Also compare log() with partd.File on 100,000 keys × 10 values (benchmarks/log-many-keys.ts; a tenth without --full). */
  manyKeys?: boolean;
  /** Also measure buffer()'s memory budget against RSS (benchmarks/memory.ts). */
  memory: boolean;
  /** Also measure the Arrow layers (benchmarks/arrow.ts). */
  arrow: boolean;
  /** Also time the laminate command's start-up against bare Node (benchmarks/startup.ts). */
  startup: boolean;
  /** Only the start-up table. */
  startupOnly: boolean;
  /** Only the live-stream latency and throughput table (benchmarks/streams.ts). */
  streamsOnly?: boolean;
  /** Only the cas() and catalog() tables (benchmarks/cas.ts). */
  casOnly?: boolean;
  /** Only tables() against DuckDB and csv-parse (benchmarks/tables.ts). */
  tablesOnly?: boolean;
  /** Also measure typedArrays() against partd.Numpy (benchmarks/typed-arrays.ts). */
  typed: boolean;
  /** Only the typed-array rows. */
  typedOnly: boolean;
  /** Also measure the compression table (benchmarks/compression.ts). */
  compression: boolean;
  /** Only the compression table. */
  compressionOnly: boolean;
  /** Also measure clients through serve() (benchmarks/network.ts). */
  network: boolean;
  /** Only the network table. */
  networkOnly: boolean;
  /** Also measure EpisodePool against one Arrow file per episode (benchmarks/pool.ts). */
  pool: boolean;
  /** Only the episode pool table. */
  poolOnly: boolean;
  /** Also measure redis() against serve() and partd (benchmarks/redis.ts; starts its own redis-server), printed after the summary; --redis-only: only that. */
  redis?: 'also' | 'only';
  dir: string;
  out?: string;
  /** Draw the page and charts again from a run's JSON, measuring nothing. */
  render?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: true, repeat: 0, python: true, shuffle: true, memory: true, arrow: true, typed: true, typedOnly: false, compression: true, compressionOnly: false, network: true, networkOnly: false, pool: true, poolOnly: false, startup: true, startupOnly: false, dir: tmpdir() };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    if (flag === '--quick') args.quick = true;
    else if (flag === '--full') args.quick = false;
    else if (flag === '--no-python') args.python = false;
    else if (flag === '--no-arrow') args.arrow = false;
    else if (flag === '--no-shuffle') args.shuffle = false;
    else if (flag === '--many-keys') args.manyKeys = true;
    else if (flag === '--no-memory') args.memory = false;
    else if (flag === '--no-typed') args.typed = false;
    else if (flag === '--typed-only') args.typedOnly = true;
    else if (flag === '--no-compression') args.compression = false;
    else if (flag === '--compression-only') args.compressionOnly = true;
    else if (flag === '--no-network') args.network = false;
    else if (flag === '--network-only') args.networkOnly = true;
    else if (flag === '--no-pool') args.pool = false;
    else if (flag === '--pool-only') args.poolOnly = true;
    else if (flag === '--redis' || flag === '--redis-only') args.redis = flag === '--redis' ? 'also' : 'only';
    else if (flag === '--no-startup') args.startup = false;
    else if (flag === '--startup-only') args.startupOnly = true;
    else if (flag === '--streams-only') args.streamsOnly = true;
    else if (flag === '--cas-only') args.casOnly = true;
    else if (flag === '--tables-only') args.tablesOnly = true;
    else if (flag === '--repeat') args.repeat = Math.max(1, Number.parseInt(value(), 10) || usage('--repeat takes a number'));
    else if (flag === '--only') args.only = value().split(',');
    else if (flag === '--workloads') args.workloads = value().split(',');
    else if (flag === '--dir') args.dir = resolve(value());
    else if (flag === '--out') {
      const path = value();
      args.out = path.endsWith('.md') ? resolve(path) : usage('--out takes a .md file; its .json and its charts folder go beside it');
    }
    else if (flag === '--render') args.render = resolve(value());
    else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown option ${flag}`);
  }
  // Best of 3 in the full mode: one run on a shared machine is too noisy; the quick mode is a first look.
  if (args.repeat === 0) args.repeat = args.quick ? 1 : 3;
  const known = [...Object.keys(STACKS), ...Object.keys(NODE_PEERS)];
  for (const name of args.only ?? []) if (!known.includes(name)) usage(`--only: no stack or peer "${name}"; they are ${known.join(', ')}`);
  return args;
}

/** Left out of (a)–(c) in the quick mode, for time: the compression table measures them. */
const SLOW_CODECS = ['gzip', 'brotli'];

/** The laminate stacks and Node.js peers that run workloads (a), (b) and (c). */
function names(args: Args): string[] {
  const all = [...Object.keys(STACKS), ...Object.keys(NODE_PEERS)];
  return args.only ? all.filter((name) => args.only!.includes(name)) : all.filter((name) => !args.quick || !SLOW_CODECS.includes(name));
}

function usage(problem?: string): never {
  if (problem) console.error(`bench: ${problem}`);
  console.error('usage: npm run bench [-- --full] [--repeat N] [--only file,buffer,…] [--workloads a,b,c] [--no-python] [--no-shuffle] [--no-memory] [--no-arrow] [--no-typed] [--typed-only] [--no-compression] [--compression-only] [--no-network] [--network-only] [--no-pool] [--pool-only] [--no-startup] [--startup-only] [--cas-only] [--redis] [--redis-only] [--dir PATH] [--out FILE] [--render RUN.json]');
  process.exit(problem ? 2 : 0);
}

const begun = performance.now();
const args = parseArgs(process.argv.slice(2));

/** Prints the section that starts now, with the seconds since the run began. */
function step(what: string): void {
  console.error(`bench: [${((performance.now() - begun) / 1000).toFixed(0).padStart(3)} s] ${what}`);
}

function loud(lines: string[]): void {
  const bar = '!'.repeat(78);
  console.error(['', bar, ...lines.map((l) => `!! ${l}`), bar, ''].join('\n'));
}

/** Runs worker.ts with `args` in a fresh Node process; its JSON result, or why there is none. */
function inChild<T>(args: string[]): Promise<T | { error: string }> {
  const child = spawn(process.execPath, [...process.execArgv, join(here, 'worker.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((done) => {
    child.on('close', (code) => {
      try {
        done(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch {
        done({ error: `worker exited ${code} without results: ${err.trim().split('\n').slice(-2).join(' ')}` });
      }
    });
  });
}

/** One store (laminate stack or Node.js peer) on one workload, in its own process. */
async function runWorker(name: string, root: string, id: string, args: Args): Promise<Measurement> {
  const got = await inChild<Measurement>(['store', name, root, id, String(args.repeat), args.quick ? '1' : '0']);
  if ('store' in got) return got;
  return { store: STACKS[name]?.label ?? NODE_PEERS[name].label, workload: id, values: 0, bytes: 0, appendSeconds: 0, getSeconds: 0, verified: false, error: got.error };
}

function progress(m: Measurement): void {
  const line = m.verified
    ? `${(m.values / m.appendSeconds).toFixed(0).padStart(9)} values/s append, ${(m.values / m.getSeconds).toFixed(0).padStart(9)} values/s get, reads verified`
    : `FAILED: ${m.error}`;
  console.error(`  (${m.workload}) ${m.store.padEnd(48)} ${line}${m.note ? ' [note]' : ''}`);
}

/** Writes the page at `out` (docs/benchmarks.md), its numbers beside it (.json) and its charts in a folder of its name. */
function write(results: Results, out = join(here, '..', 'docs', 'benchmarks.md')): void {
  const base = out.replace(/\.md$/, '');
  mkdirSync(base, { recursive: true });
  const drawn = charts(results);
  for (const chart of drawn) writeFileSync(join(base, chart.name), chart.svg);
  writeFileSync(out, markdown(results, drawn.map((chart) => ({ file: `${basename(base)}/${chart.name}`, title: chart.title }))));
  if (!args.render) writeFileSync(`${base}.json`, `${JSON.stringify(toJson(results), null, 1)}\n`);
  console.error(`bench: wrote ${out}${args.render ? '' : `, ${base}.json`} and ${drawn.length} charts in ${base}/`);
}

async function main(): Promise<void> {
  if (args.render) {
    write(fromJson(JSON.parse(readFileSync(args.render, 'utf8'))), args.out);
    return;
  }
  const started = performance.now();
  const loadStart = load();
  const ws = workloads(args.quick).filter((w) => !args.workloads || args.workloads.includes(w.id));
  if (ws.length === 0) usage('--workloads selects none of a, b, c');
  mkdirSync(args.dir, { recursive: true });
  const root = mkdtempSync(join(args.dir, 'laminate-bench-'));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    console.error(`bench: working in ${root}`);
    if (args.compressionOnly) {
      console.error('bench: compression table only');
      const { compressionMarkdown } = await import('./report.js');
      console.log(`\n${compressionMarkdown(await compressionBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }))}\n`);
      return;
    }
    if (args.networkOnly) {
      console.error('bench: network table only');
      console.log(`\n${networkMarkdown(await networkBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }))}\n`);
      return;
    }
    if (args.poolOnly) {
      console.error('bench: episode pool table only');
      console.log(`\n${poolMarkdown(await poolBench(root, { quick: args.quick, repeat: args.repeat }))}\n`);
      return;
    }
    if (args.redis === 'only') {
      console.error('bench: Redis table only');
      console.log(`\n${redisMarkdown(await redisBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }))}\n`);
      return;
    }
    if (args.streamsOnly) {
      console.error('bench: live-stream table only');
      const { streamsBench, streamsMarkdown } = await import('./streams.js');
      console.log(`\n${streamsMarkdown(await streamsBench(root, { quick: args.quick }))}\n`);
      return;
    }
    if (args.tablesOnly) {
      console.error('bench: tables() against DuckDB and csv-parse only');
      const { tablesBench, tablesMarkdown } = await import('./tables.js');
      console.log(`\n${tablesMarkdown(await tablesBench(root, { quick: args.quick }))}\n`);
      return;
    }
    if (args.casOnly) {
      console.error('bench: cas() and catalog() tables only');
      const { casBench, casMarkdown } = await import('./cas.js');
      console.log(`\n${casMarkdown(await casBench(root, { quick: args.quick, repeat: args.repeat }))}\n`);
      return;
    }
    if (args.startupOnly) {
      console.error('bench: start-up table only');
      console.log(`\n${startupMarkdown(await startupBench(root, { quick: args.quick, repeat: args.repeat }))}\n`);
      return;
    }
    if (args.typedOnly) {
      console.error('bench: typed-array rows only');
      const { typedMarkdown } = await import('./report.js');
      console.log(`\n${typedMarkdown(await typedBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }))}\n`);
      return;
    }
    const corpus = makeCorpus(CORPUS_BYTES);
    writeFileSync(join(root, 'corpus.bin'), corpus);
    const want = Object.fromEntries(ws.map((w) => [w.id, expected(w, corpus)]));
    writeFileSync(join(root, 'expected.json'), JSON.stringify(want));
    // One config per workload: partd runs each in its own Python process, for its peak RSS.
    for (const w of ws) writeFileSync(join(root, `config-${w.id}.json`), JSON.stringify({ stride: STRIDE, workloads: [w], expected: { [w.id]: want[w.id] } }));

    step('lock cost and file system primitives');
    const lock = await lockCost(root);
    const costs = primitives(root);

    const ddMiB = Math.ceil(totalBytes(ws.find((w) => w.id === 'c') ?? ws[ws.length - 1]) / 2 ** 20);
    step(`dd, ${ddMiB} MiB`);
    const ddRuns = (sync: boolean) => {
      let kept = dd(root, ddMiB, sync);
      for (let i = 1; i < args.repeat; i++) {
        const next = dd(root, ddMiB, sync);
        if (!next.error && (kept.error || next.seconds < kept.seconds)) kept = next;
      }
      return kept;
    };
    const ddResults = { cache: ddRuns(false), disk: ddRuns(true), read: ddCachedRead(root, ddMiB), bySize: Object.fromEntries(ws.map((w) => [w.id, ddBlocks(root, w.valueBytes, totalBytes(w))])) };

    const laminate = new Map<string, Measurement[]>();
    const nodePeers = new Map<string, Measurement[]>();
    for (const name of names(args)) {
      step(`${STACKS[name]?.label ?? NODE_PEERS[name].label}`);
      const runs: Measurement[] = [];
      for (const w of ws) runs.push(await runWorker(name, root, w.id, args));
      runs.forEach(progress);
      (name in STACKS ? laminate : nodePeers).set(name, runs);
    }

    const peers = new Map<PartdStack, Measurement[] | { error: string }>();
    let partd: Results['partd'] = { error: 'skipped (--no-python)' };
    let partdCostsMeasured: PartdCosts | undefined;
    if (args.python) {
      partd = partdInfo();
      if ('error' in partd) {
        loud([
          'Python partd is NOT INSTALLED, so this run has no partd peer:',
          `the partd rows say "not installed" and the targets against partd are not measured. (${partd.error})`,
          `Install it for ${PYTHON}:  ${INSTALL}`,
        ]);
        for (const stack of Object.keys(PEERS) as PartdStack[]) peers.set(stack, { error: 'not installed' });
      } else {
        partdCostsMeasured = partdCosts(root);
        for (const stack of Object.keys(PEERS) as PartdStack[]) {
          step(`${PEERS[stack]} (Python partd ${partd.partd})`);
          const runs: Measurement[] = [];
          let failed: { error: string } | undefined;
          for (const w of ws) {
            settle();
            const got = runPartd(stack, root, join(root, `config-${w.id}.json`), args.repeat);
            if (Array.isArray(got)) runs.push(...got);
            else failed = got;
          }
          if (failed) console.error(`  FAILED: ${failed.error}`);
          else runs.forEach(progress);
          peers.set(stack, failed ?? runs);
        }
      }
    }

    const shuffle: Measurement[] = [];
    if (args.shuffle) {
      step('the shuffle demo (laminate, LevelDB, LMDB, appendFile)');
      for (const store of SHUFFLE_STORES) {
        const got = await inChild<Measurement>(['shuffle', store, root, String(args.repeat), args.quick ? '1' : '0']);
        const m: Measurement = 'store' in got ? got : { store: shuffleLabel(store, shuffleShape(args.quick)), workload: 'shuffle', values: 0, bytes: 0, appendSeconds: 0, getSeconds: 0, verified: false, error: got.error };
        progress(m);
        shuffle.push(m);
      }
    }

    if (args.manyKeys) {
      step('many keys: log() and partd.File');
      console.log(`\n${await manyKeysBench(root, { keys: args.quick ? 10_000 : 100_000, repeat: args.repeat, python: args.python })}\n`);
    }

    let memory: MemoryResults | { error: string } | undefined;
    if (args.memory) {
      step(`buffer() memory budget against RSS`);
      memory = await inChild<MemoryResults>(['memory', root, args.quick ? '1' : '0']);
      if ('row' in memory) progress(memory.row);
      else console.error(`  FAILED: ${memory.error}`);
    }

    if (args.typed) step('typed arrays (typedArrays, partd.Numpy)');
    const typed = args.typed ? await typedBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }) : undefined;

    if (args.arrow) step('Arrow tables (arrow, arrowColumns, partd.PandasBlocks)');
    const arrow = args.arrow ? await arrowBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }) : undefined;

    if (args.compression) step('compression table (every compressor, partd ZLib, BZ2, Snappy, Blosc)');
    const compression = args.compression ? await compressionBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }) : undefined;

    // The network section runs up to 9 processes at once and loads the machine itself, as the
    // pool section then finds it: the load that says whether something else was running is this one.
    const loadBefore = load();
    if (args.network) step('network (1, 4, 8 client processes through serve(), partd.zmq)');
    const network = args.network ? await networkBench(root, { quick: args.quick, repeat: args.repeat, python: args.python, partdInstalled: !('error' in partd) }) : undefined;

    if (args.pool) step('episode pool (EpisodePool, one Arrow IPC file per episode)');
    const pool = args.pool ? await poolBench(root, { quick: args.quick, repeat: args.repeat }) : undefined;

    if (args.startup) step('start-up of the laminate command against node -e 0');
    const startup = args.startup ? await startupBench(root, { quick: args.quick, repeat: args.repeat }) : undefined;

    const extra = process.argv.slice(2).join(' ');
    const results: Results = {
      command: `npm run bench${extra ? ` -- ${extra}` : ''}`,
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      quick: args.quick,
      repeat: args.repeat,
      seconds: (performance.now() - started) / 1000,
      machine: machine(root),
      partd,
      load: { start: loadStart, end: loadBefore },
      workloads: ws,
      laminate,
      nodePeers,
      peers,
      shuffle,
      memory,
      dd: ddResults,
      lock,
      primitives: costs,
      partdCosts: partdCostsMeasured,
      arrow,
      typed,
      compression,
      network,
      pool,
      startup,
    };
    console.log(`\n${summary(results)}\n`);
    write(results, args.out);
    if (args.redis) step('Redis (1, 4, 8 producer processes through redis(), serve(), partd.zmq; the shuffle over redis())');
    if (args.redis) console.log(`\n${redisMarkdown(await redisBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }))}\n`);
    // A memory run that ended without results counts as a failed check too.
    const memoryRow = memory ? ['row' in memory ? memory.row : { verified: false }] : [];
    const failed = [...laminate.values(), ...nodePeers.values(), ...[...peers.values()].filter(Array.isArray), shuffle, memoryRow, ...(network?.rows ?? []), ...(startup?.rows ?? [])].flat().filter((m) => !m.verified);
    if (failed.length > 0) {
      console.error(`bench: ${failed.length} measurements FAILED their read check`);
      process.exitCode = 1;
    }
  } finally {
    cleanup();
  }
}

await main();
