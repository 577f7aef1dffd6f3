// npm run bench [-- --quick] [--repeat N (default 3, 1 with --quick)] [--only file,buffer,…] [--workloads a,b,c] [--no-python] [--no-arrow] [--no-typed] [--typed-only] [--no-compression] [--compression-only] [--no-network] [--network-only] [--no-pool] [--pool-only] [--dir PATH] [--out FILE]
//
// Runs workloads (a), (b) and (c) through every laminate stack, through
// Python partd and against dd, checks every read, prints the tables and
// writes docs/benchmarks.md (a --quick run writes only with --out).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arrowBench } from './arrow.js';
import { compressionBench } from './compression.js';
import { networkBench, networkMarkdown } from './network.js';
import { poolBench, poolMarkdown } from './pool.js';
import { typedBench } from './typed-arrays.js';
import { dd, settle } from './disk.js';
import { STACKS } from './laminate.js';
import { lockCost } from './lock.js';
import { load, machine } from './machine.js';
import type { Measurement } from './measure.js';
import { INSTALL, PEERS, PYTHON, type PartdCosts, type PartdStack, partdCosts, partdInfo, runPartd } from './python.js';
import { primitives } from './primitives.js';
import { type Results, markdown, summary } from './report.js';
import { CORPUS_BYTES, STRIDE, expected, makeCorpus, totalBytes, workloads } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Args {
  quick: boolean;
  repeat: number;
  only?: string[];
  workloads?: string[];
  python: boolean;
  /** Also measure the Arrow layers (benchmarks/arrow.ts). */
  arrow: boolean;
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
  dir: string;
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, repeat: 0, python: true, arrow: true, typed: true, typedOnly: false, compression: true, compressionOnly: false, network: true, networkOnly: false, pool: true, poolOnly: false, dir: tmpdir() };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    if (flag === '--quick') args.quick = true;
    else if (flag === '--no-python') args.python = false;
    else if (flag === '--no-arrow') args.arrow = false;
    else if (flag === '--no-typed') args.typed = false;
    else if (flag === '--typed-only') args.typedOnly = true;
    else if (flag === '--no-compression') args.compression = false;
    else if (flag === '--compression-only') args.compressionOnly = true;
    else if (flag === '--no-network') args.network = false;
    else if (flag === '--network-only') args.networkOnly = true;
    else if (flag === '--no-pool') args.pool = false;
    else if (flag === '--pool-only') args.poolOnly = true;
    else if (flag === '--repeat') args.repeat = Math.max(1, Number.parseInt(value(), 10) || usage('--repeat takes a number'));
    else if (flag === '--only') args.only = value().split(',');
    else if (flag === '--workloads') args.workloads = value().split(',');
    else if (flag === '--dir') args.dir = resolve(value());
    else if (flag === '--out') args.out = resolve(value());
    else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown option ${flag}`);
  }
  // Best of 3 by default: one run on a shared machine is too noisy; --quick is a smoke test.
  if (args.repeat === 0) args.repeat = args.quick ? 1 : 3;
  for (const name of args.only ?? []) if (!(name in STACKS)) usage(`--only: no stack "${name}"; the stacks are ${Object.keys(STACKS).join(', ')}`);
  return args;
}

function usage(problem?: string): never {
  if (problem) console.error(`bench: ${problem}`);
  console.error('usage: npm run bench [-- --quick] [--repeat N] [--only file,buffer,…] [--workloads a,b,c] [--no-python] [--no-arrow] [--no-typed] [--typed-only] [--no-compression] [--compression-only] [--no-network] [--network-only] [--no-pool] [--pool-only] [--dir PATH] [--out FILE]');
  process.exit(problem ? 2 : 0);
}

function loud(lines: string[]): void {
  const bar = '!'.repeat(78);
  console.error(['', bar, ...lines.map((l) => `!! ${l}`), bar, ''].join('\n'));
}

/** Runs one laminate stack in a fresh Node process (see worker.ts). */
function runWorker(stack: string, root: string, ids: string[], args: Args): Promise<Measurement[]> {
  const script = join(here, 'worker.ts');
  const child = spawn(process.execPath, [...process.execArgv, script, stack, root, ids.join(','), String(args.repeat), args.quick ? '1' : '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((done) => {
    child.on('close', (code) => {
      try {
        done(JSON.parse(out.trim().split('\n').pop()!) as Measurement[]);
      } catch {
        const error = `worker exited ${code} without results`;
        done(ids.map((id) => ({ store: STACKS[stack].label, workload: id, values: 0, bytes: 0, appendSeconds: 0, getSeconds: 0, verified: false, error })));
      }
    });
  });
}

function progress(m: Measurement): void {
  const line = m.verified
    ? `${(m.values / m.appendSeconds).toFixed(0).padStart(9)} values/s append, ${(m.values / m.getSeconds).toFixed(0).padStart(9)} values/s get, reads verified`
    : `FAILED: ${m.error}`;
  console.error(`  (${m.workload}) ${m.store.padEnd(48)} ${line}${m.note ? ' [note]' : ''}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
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
    writeFileSync(join(root, 'config.json'), JSON.stringify({ stride: STRIDE, workloads: ws, expected: want }));

    console.error('bench: lock cost and file system primitives');
    const lock = await lockCost(root);
    const costs = primitives(root);

    const ddMiB = Math.ceil(totalBytes(ws.find((w) => w.id === 'c') ?? ws[ws.length - 1]) / 2 ** 20);
    console.error(`bench: dd, ${ddMiB} MiB`);
    const ddRuns = (sync: boolean) => {
      let kept = dd(root, ddMiB, sync);
      for (let i = 1; i < args.repeat; i++) {
        const next = dd(root, ddMiB, sync);
        if (!next.error && (kept.error || next.seconds < kept.seconds)) kept = next;
      }
      return kept;
    };
    const ddResults = { cache: ddRuns(false), disk: ddRuns(true) };

    const laminate = new Map<string, Measurement[]>();
    for (const stack of Object.keys(STACKS).filter((s) => !args.only || args.only.includes(s))) {
      console.error(`bench: ${STACKS[stack].label}`);
      const runs = await runWorker(stack, root, ws.map((w) => w.id), args);
      runs.forEach(progress);
      laminate.set(stack, runs);
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
          console.error(`bench: ${PEERS[stack]} (Python partd ${partd.partd})`);
          settle();
          const runs = runPartd(stack, root, join(root, 'config.json'), args.repeat);
          if (Array.isArray(runs)) runs.forEach(progress);
          else console.error(`  FAILED: ${runs.error}`);
          peers.set(stack, runs);
        }
      }
    }

    if (args.typed) console.error('bench: typed arrays (typedArrays, partd.Numpy)');
    const typed = args.typed ? await typedBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }) : undefined;

    if (args.arrow) console.error('bench: Arrow tables (arrow, arrowColumns, partd.PandasBlocks)');
    const arrow = args.arrow ? await arrowBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }) : undefined;

    if (args.compression) console.error('bench: compression table (every compressor, partd ZLib, BZ2, Snappy, Blosc)');
    const compression = args.compression ? await compressionBench(root, { quick: args.quick, repeat: args.repeat, python: args.python }) : undefined;

    // The network section runs up to 9 processes at once and loads the machine itself, as the
    // pool section then finds it: the load that says whether something else was running is this one.
    const loadBefore = load();
    if (args.network) console.error('bench: network (1, 4, 8 client processes through serve(), partd.zmq)');
    const network = args.network ? await networkBench(root, { quick: args.quick, repeat: args.repeat, python: args.python, partdInstalled: !('error' in partd) }) : undefined;

    if (args.pool) console.error('bench: episode pool (EpisodePool, one Arrow IPC file per episode)');
    const pool = args.pool ? await poolBench(root, { quick: args.quick, repeat: args.repeat }) : undefined;

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
      peers,
      dd: ddResults,
      lock,
      primitives: costs,
      partdCosts: partdCostsMeasured,
      arrow,
      typed,
      compression,
      network,
      pool,
    };
    console.log(`\n${summary(results)}\n`);
    const out = args.out ?? (args.quick ? undefined : join(here, '..', 'docs', 'benchmarks.md'));
    if (out) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, markdown(results));
      console.error(`bench: wrote ${out}`);
    } else {
      console.error('bench: --quick run, docs/benchmarks.md left as it was (add --out FILE to write one)');
    }
    const failed = [...laminate.values(), ...[...peers.values()].filter(Array.isArray), ...(network?.rows ?? [])].flat().filter((m) => !m.verified);
    if (failed.length > 0) {
      console.error(`bench: ${failed.length} measurements FAILED their read check`);
      process.exitCode = 1;
    }
  } finally {
    cleanup();
  }
}

await main();
