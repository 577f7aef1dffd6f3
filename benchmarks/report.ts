// Turns the measurements into the tables, the target verdicts and the
// markdown page docs/benchmarks.md.
import type { DdResult } from './disk.js';
import type { LockCost } from './lock.js';
import type { Machine } from './machine.js';
import type { Measurement } from './measure.js';
import type { Primitives } from './primitives.js';
import type { PartdCosts, PartdInfo, PartdStack } from './python.js';
import { type Workload, totalBytes, valueCount } from './workloads.js';
import { type ArrowResults, arrowMarkdown } from './arrow.js';
import { type CompressionResults, compressionMarkdown } from './compression.js';
import { type TypedResults, typedMarkdown } from './typed-arrays.js';
import { type NetResults, networkMarkdown } from './network.js';
import { type PoolResults, poolMarkdown } from './pool.js';
import { type StartupResults, startupMarkdown } from './startup.js';
import type { MemoryResults } from './memory.js';
import { pairs, peerTables, phases, trails } from './versus.js';
export { compressionMarkdown, typedMarkdown };

export interface Results {
  command: string;
  date: string;
  quick: boolean;
  repeat: number;
  seconds: number;
  machine: Machine;
  partd: PartdInfo | { error: string };
  load: { start: number; end: number };
  workloads: Workload[];
  /** laminate stack id (file, buffer, zlib, …) → its measurements. */
  laminate: Map<string, Measurement[]>;
  /** Node.js peer id (leveldb, lmdb, appendfile) → its measurements. */
  nodePeers: Map<string, Measurement[]>;
  /** The shuffle demo: laminate's stack first, then each Node.js peer. */
  shuffle: Measurement[];
  /** buffer()'s memory budget against RSS, unless --no-memory. */
  memory?: MemoryResults | { error: string };
  /** partd stack → its measurements, or why there are none. */
  peers: Map<PartdStack, Measurement[] | { error: string }>;
  /** bySize: workload id → dd in blocks of its value size over its volume (disk.ts ddBlocks); absent in runs made before it. */
  dd: { cache: DdResult; disk: DdResult; read?: DdResult; bySize?: Record<string, { write: DdResult; read: DdResult }> };
  lock: LockCost;
  primitives: Primitives;
  partdCosts?: PartdCosts;
  /** benchmarks/arrow.ts, unless --no-arrow. */
  arrow?: ArrowResults;
  /** benchmarks/typed-arrays.ts, unless --no-typed. */
  typed?: TypedResults;
  /** benchmarks/compression.ts, unless --no-compression. */
  compression?: CompressionResults;
  /** benchmarks/network.ts, unless --no-network. */
  network?: NetResults;
  /** benchmarks/pool.ts, unless --no-pool. */
  pool?: PoolResults;
  /** benchmarks/startup.ts, unless --no-startup. */
  startup?: StartupResults;
}

/** Which partd stack each laminate stack is compared with. */
export const PEER_OF: Record<string, PartdStack> = {
  file: 'File',
  'file-exclusive': 'File',
  'file-view': 'File',
  log: 'File',
  'log-view': 'File',
  buffer: 'Buffer',
  'buffer-view': 'Buffer',
  'buffer-transfer': 'Buffer',
  zlib: 'ZLib',
  gzip: 'ZLib',
  brotli: 'ZLib',
  lz4: 'ZLib',
  zstd: 'ZLib',
};

/** Like-for-like pairs: the laminate stacks whose get must be at least partd's. */
const SAME_KIND = ['file', 'file-exclusive', 'buffer', 'zlib'];

const MB = 1e6;

interface Rates {
  appendValues: number;
  appendMB: number;
  getValues: number;
  getMB: number;
}

function rates(m: Measurement | undefined): Rates | undefined {
  if (!m || !m.verified) return undefined;
  return { appendValues: m.values / m.appendSeconds, appendMB: m.bytes / MB / m.appendSeconds, getValues: m.values / m.getSeconds, getMB: m.bytes / MB / m.getSeconds };
}

function ddMB(d: DdResult): number | undefined {
  return d.error || d.seconds <= 0 ? undefined : d.bytes / MB / d.seconds;
}

function laminateRun(r: Results, stack: string, workload: string): Measurement | undefined {
  return r.laminate.get(stack)?.find((m) => m.workload === workload);
}

function peerRun(r: Results, stack: PartdStack, workload: string): Measurement | undefined {
  const runs = r.peers.get(stack);
  return Array.isArray(runs) ? runs.find((m) => m.workload === workload) : undefined;
}

function peerMissing(r: Results, stack: PartdStack): string | undefined {
  const runs = r.peers.get(stack);
  if (!runs) return 'not run';
  return Array.isArray(runs) ? undefined : runs.error;
}

// ---- number formatting ----

function count(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)} k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

function mb(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '—';
  const x = a / b;
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`;
}

function bytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(0)} MB` : `${(n / 1e3).toFixed(0)} KB`;
}

/** A markdown table whose columns line up in a terminal too. */
function table(head: string[], rows: string[][], right: boolean[] = head.map((_, i) => i > 0)): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

// ---- the tables ----

function workloadTable(r: Results, w: Workload): string {
  const head = ['store', 'append values/s', 'append MB/s', 'get values/s', 'get MB/s', 'append vs partd', 'get vs partd', 'on disk', 'peak RSS'];
  const blank = (label: string, why: string) => [label, why, '', '', '', '', '', '', ''];
  const rows: string[][] = [];
  const row = (m: Measurement | undefined, label: string, peer?: PartdStack) => {
    const mine = rates(m);
    if (!mine) {
      rows.push(blank(label, m?.error ? `FAILED: ${m.error}` : 'not run'));
      return;
    }
    const theirs = peer ? rates(peerRun(r, peer, w.id)) : undefined;
    const versus = (a: number, b: number | undefined) => (peer ? `${ratio(a, b)} ${peer}` : '');
    rows.push([
      label,
      count(mine.appendValues),
      mb(mine.appendMB),
      count(mine.getValues),
      mb(mine.getMB),
      versus(mine.appendValues, theirs?.appendValues),
      versus(mine.getValues, theirs?.getValues),
      m!.diskBytes === undefined ? '—' : `${((100 * m!.diskBytes) / m!.bytes).toFixed(0)} %`,
      m!.peakRss === undefined ? '—' : `${(m!.peakRss / MB).toFixed(0)} MB`,
    ]);
  };
  for (const [stack, runs] of r.laminate) {
    const m = runs.find((x) => x.workload === w.id);
    row(m, m?.store ?? stack, PEER_OF[stack]);
  }
  for (const [name, runs] of r.nodePeers) {
    const m = runs.find((x) => x.workload === w.id);
    row(m, m?.store ?? name);
  }
  for (const stack of r.peers.keys()) {
    const missing = peerMissing(r, stack);
    if (missing) rows.push(blank(PEER_LABEL[stack], missing));
    else row(peerRun(r, stack, w.id), PEER_LABEL[stack]);
  }
  for (const d of [r.dd.cache, r.dd.disk]) {
    const rate = ddMB(d);
    rows.push([d.label, '', rate === undefined ? `FAILED: ${d.error}` : mb(rate), '', '', '', '', '', '']);
  }
  if (r.dd.read) {
    const rate = ddMB(r.dd.read);
    rows.push([r.dd.read.label, '', '', '', rate === undefined ? `FAILED: ${r.dd.read.error}` : mb(rate), '', '', '', '']);
  }
  return table(head, rows);
}

const PEER_LABEL: Record<PartdStack, string> = {
  File: 'partd.File()',
  Buffer: 'partd.Buffer(Dict(), File(), 64 MiB)',
  ZLib: 'partd.ZLib(partd.File())',
};

function diskTable(r: Results, w: Workload): string {
  const cache = ddMB(r.dd.cache);
  const disk = ddMB(r.dd.disk);
  const rows: string[][] = [];
  const add = (label: string, m: Measurement | undefined) => {
    const mine = rates(m);
    if (mine) rows.push([label, mb(mine.appendMB), ratio(mine.appendMB, cache), ratio(mine.appendMB, disk)]);
  };
  for (const stack of ['file', 'file-exclusive', 'buffer']) add(laminateRun(r, stack, w.id)?.store ?? stack, laminateRun(r, stack, w.id));
  add('partd.File()', peerRun(r, 'File', w.id));
  return table(['store', 'append MB/s', 'vs dd (page cache)', 'vs dd conv=fdatasync'], rows);
}

// ---- the targets ----

export interface Verdict {
  target: string;
  measured: string;
  status: 'met' | 'not met' | 'not measured';
}

function verdict(target: string, mine: number | undefined, theirs: number | undefined, goal: number, what: string): Verdict {
  if (mine === undefined || theirs === undefined || !(theirs > 0)) return { target, measured: `${what}: not measured`, status: 'not measured' };
  const x = mine / theirs;
  return { target, measured: `${x.toFixed(2)}× (${what})`, status: x >= goal ? 'met' : 'not met' };
}

export function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const file = rates(peerRun(r, 'File', 'a'));
  const a = (stack: string) => rates(laminateRun(r, stack, 'a'));
  out.push(verdict('file() small appends ≥ 3× partd.File (a)', a('file')?.appendValues, file?.appendValues, 3, `${fmt(a('file')?.appendValues)} vs ${fmt(file?.appendValues)} values/s`));
  out.push(
    verdict('file(dir, { exclusive: true }) small appends ≥ 6× partd.File (a)', a('file-exclusive')?.appendValues, file?.appendValues, 6, `${fmt(a('file-exclusive')?.appendValues)} vs ${fmt(file?.appendValues)} values/s`),
  );
  for (const w of ['a', 'b']) {
    const mine = rates(laminateRun(r, 'buffer', w));
    const theirs = rates(peerRun(r, 'Buffer', w));
    out.push(verdict(`buffer(dict(), file()) appends ≥ 1.5× partd.Buffer (${w})`, mine?.appendValues, theirs?.appendValues, 1.5, `${fmt(mine?.appendValues)} vs ${fmt(theirs?.appendValues)} values/s`));
  }
  const c = rates(laminateRun(r, 'file', 'c'));
  const cache = ddMB(r.dd.cache);
  out.push(verdict('file() 1 MB values ≥ 0.8× dd (c; dd without fdatasync, like the stores)', c?.appendMB, cache, 0.8, `${fmtMB(c?.appendMB)} vs ${fmtMB(cache)} MB/s`));
  const misses: string[] = [];
  let pairs = 0;
  let worst: number | undefined;
  for (const w of r.workloads) {
    for (const stack of SAME_KIND) {
      const mine = rates(laminateRun(r, stack, w.id));
      const theirs = rates(peerRun(r, PEER_OF[stack], w.id));
      if (!mine || !theirs) continue;
      pairs++;
      const x = mine.getValues / theirs.getValues;
      worst = worst === undefined ? x : Math.min(worst, x);
      if (x < 1) misses.push(`${laminateRun(r, stack, w.id)!.store} on (${w.id}): ${x.toFixed(2)}×`);
    }
  }
  if (r.network) {
    const speed = (kind: string, producers?: number) => {
      const row = r.network!.rows.find((x) => x.kind === kind && x.verified && (producers === undefined || x.producers === producers));
      return row ? row.bytes / row.seconds / MB : undefined;
    };
    const eight = speed('laminate', 8);
    out.push(verdict('8 clients through one serve() ≥ 0.7× the same appends made directly on buffer(dict(), file()) (10 KB values)', eight, speed('direct'), 0.7, `${fmtMB(eight)} vs ${fmtMB(speed('direct'))} MB/s`));
    out.push(verdict('8 clients through one serve() ≥ 2× partd.zmq with 8 clients', eight, speed('partd', 8), 2, `${fmtMB(eight)} vs ${fmtMB(speed('partd', 8))} MB/s`));
  }
  if (r.memory && 'row' in r.memory) {
    const m = r.memory;
    const MiB = 2 ** 20;
    const limit = m.baseline + m.budget + m.allowance;
    out.push({
      target: `buffer() peak RSS while appending ≤ baseline + budget + ${m.allowance / MiB} MiB allowance`,
      measured: `${(m.peakAppend / MiB).toFixed(0)} MiB vs ${(limit / MiB).toFixed(0)} MiB (baseline ${(m.baseline / MiB).toFixed(0)} + budget ${(m.budget / MiB).toFixed(0)} + allowance ${(m.allowance / MiB).toFixed(0)})`,
      status: !m.row.verified ? 'not measured' : m.peakAppend <= limit ? 'met' : 'not met',
    });
  }
  const expectedPairs = SAME_KIND.length * r.workloads.length;
  out.push({
    target: 'every get ≥ partd (file, file exclusive, buffer, zlib vs their partd peer, each workload)',
    measured: pairs === 0 ? 'not measured' : misses.length === 0 ? `${pairs} of ${expectedPairs} pairs measured, slowest ${worst!.toFixed(2)}×` : `below partd: ${misses.join('; ')}`,
    status: pairs === 0 ? 'not measured' : misses.length > 0 ? 'not met' : pairs < expectedPairs ? 'not measured' : 'met',
  });
  return out;
}

function fmt(n: number | undefined): string {
  return n === undefined ? '?' : count(n);
}

function fmtMB(n: number | undefined): string {
  return n === undefined ? '?' : mb(n);
}

// ---- what bounds the ratios ----

function us(x: number): string {
  return `${x < 10 ? x.toFixed(1) : x.toFixed(0)} µs`;
}

function pct(x: number): string {
  return `${Math.round(100 * x)} %`;
}

/** Why the ratios are what they are, from this run's own measurements. */
function limits(r: Results): string[] {
  const p = r.primitives;
  const out: string[] = [];
  const a = r.workloads.find((w) => w.id === 'a');
  if (a) {
    const creating = (a.keys * p.create) / 1e6;
    const shares: string[] = [];
    const theirs = peerRun(r, 'File', 'a');
    const mine = laminateRun(r, 'file-exclusive', 'a');
    if (theirs?.verified) shares.push(`${pct(creating / theirs.appendSeconds)} of partd.File's append time on (a)`);
    if (mine?.verified) shares.push(`${pct(creating / mine.appendSeconds)} of file(dir, { exclusive: true })'s`);
    out.push(
      `- **Small appends.** file() makes one write per value (${us(p.write)} for 100 bytes); partd.File opens, writes and closes the key's file for every value (${us(p.openWriteClose)} for those system calls alone). That caps the ratio near ${(p.openWriteClose / p.write).toFixed(1)}× before any other cost. Both create each key's file once, ${us(p.create)} a file here: ${(creating * 1000).toFixed(0)} ms for ${a.keys} keys${shares.length ? `, ${shares.join(' and ')}` : ''}. That cost is the same for both, so it pulls the ratio down; the more values each key receives, the nearer the ratio gets to the ceiling.`,
    );
  }
  const mine = rates(laminateRun(r, 'buffer', 'a'));
  const theirs = rates(peerRun(r, 'Buffer', 'a'));
  if (mine && theirs) {
    out.push(
      `- **buffer() over small values.** partd.Buffer appends a reference to each Python bytes object, which is immutable and never copied. laminate lets the caller reuse its buffers, so dict() copies every value, and every key is checked and normalized: ${us(1e6 / mine.appendValues)} a value against partd's ${us(1e6 / theirs.appendValues)}. On (b) both spend most of their time spilling to disk, and they create the same files.`,
    );
  }
  const c = r.workloads.find((w) => w.id === 'c');
  const cache = ddMB(r.dd.cache);
  const fileC = rates(laminateRun(r, 'file', 'c'));
  const partdC = rates(peerRun(r, 'File', 'c'));
  if (c && cache && fileC) {
    out.push(
      `- **1 MB values against dd.** dd writes the same 1 MiB buffer over and over, so it stays in the CPU cache, into one file. The stores copy values from a 32 MiB corpus into ${c.keys} files that they create first (${us(p.create)} each). file() reached ${mb(fileC.appendMB)} MB/s${partdC ? `, partd.File ${mb(partdC.appendMB)} MB/s` : ''}, dd ${mb(cache)} MB/s.`,
    );
  }
  out.push(
    `- **Reading large keys.** Every get returns a new buffer. Reading a 3 MB file with readFileSync took ${us(p.read3MB)} here, and reading it into a buffer allocated once took ${us(p.read3MBReused)}. The difference is the fresh memory that each new large buffer needs. This is most of the gap on the gets of (b) and (c).`,
  );
  if (r.partdCosts) {
    out.push(
      `- **zlib over 100-byte values.** A get inflates each frame of the key (${a ? (a.calls * a.keysPerCall) / a.keys : 'many'} a key on (a)). Node's inflateSync builds a stream object for every call: ${us(p.inflate100)} a frame, against ${us(r.partdCosts.inflate100)} for Python's zlib.decompress.`,
    );
  }
  const fileOnC = laminateRun(r, 'file', 'c');
  const partdFileC = peerRun(r, 'File', 'c');
  if (c && fileOnC?.verified && partdFileC?.verified && fileOnC.appendSeconds > partdFileC.appendSeconds) {
    const locking = (c.calls * r.lock.fileWithLockIsolated) / 1e6;
    const gap = fileOnC.appendSeconds - partdFileC.appendSeconds;
    out.push(
      `- **file() against partd.File with 1 MB values.** Both write each value with one system call into files they create first. file() also takes the directory lock once per call (${us(r.lock.fileWithLockIsolated)} for a call on its own here): ${(locking * 1000).toFixed(0)} ms over (c)'s ${c.calls} calls, ${pct(locking / gap)} of the ${(gap * 1000).toFixed(0)} ms between them.`,
    );
  }
  if (r.typed?.runs.some((m) => m.store.startsWith('partd') && m.verified)) {
    out.push(
      "- **Typed arrays' gets.** Over file(), typedArrays() makes the array over the bytes the read returned, as partd.Numpy does with `np.frombuffer`; what is left of that gap is the fresh memory each large read needs (see reading large keys). Over buffer() it copies, because that store may return memory it keeps. Over buffer(), appends trail for the reason buffer() does on small values: dict() copies each value, which partd.Buffer never does; the same holds for arrow() over buffer() against partd.PandasBlocks.",
    );
  }
  if (r.network?.rows.some((x) => x.kind === 'partd' && x.verified)) {
    out.push(
      "- **Many clients through one server.** serve() is one JavaScript thread: reading the sockets, the garbage collections the received chunks cause, the copies into dict() and the spills all run there, and on a 2-core machine the client processes take CPU from it, so throughput falls as clients are added. partd's zmq server does its socket work in ZeroMQ's own I/O thread, beside Python. One client through serve() is faster than one through partd's server.",
    );
  }
  const peer = (name: string, id: string) => r.nodePeers.get(name)?.find((m) => m.workload === id);
  if (r.nodePeers.has('leveldb')) {
    const b = peer('leveldb', 'b');
    out.push(
      `- **LevelDB appends.** LevelDB writes every record of a call to one log file in one write and keeps it in a sorted memory table; file() makes one write per key into that key's own file (100 a call here), after creating the file (${us(p.create)}). LevelDB also compresses with snappy, so it wrote ${b?.diskBytes !== undefined ? `${pct(b.diskBytes / b.bytes)} of the bytes on (b)` : 'fewer bytes'}. What it defers is not in the timed window: compactions rewrite the data in the background later, and a get merges records from the levels it is spread over, which is why its gets trail file()'s.`,
    );
  }
  if (r.nodePeers.has('lmdb')) {
    out.push(
      `- **LMDB.** With \`noSync\` an LMDB transaction copies each value into a memory-mapped file and commits with no write system call per key; file() makes one write() per key. A get in LMDB copies the value out of pages already mapped into the process; file() reads each key's file with read() into a new buffer, and new large buffers are what costs (see reading large keys above). LMDB pays in space: its file is ${(() => {
        const a = peer('lmdb', 'a');
        return a?.diskBytes !== undefined ? `${pct(a.diskBytes / a.bytes)} of the bytes on (a)` : 'larger than the data';
      })()}, pages and B-tree included.`,
    );
  }
  if (r.nodePeers.has('appendfile')) {
    out.push(
      '- **fs.promises.appendFile with 1 MB values.** Each appendFile opens, writes and closes its file in libuv\'s thread pool, so the 10 keys of a call are written in parallel, on both cores; file() writes a call\'s keys one after another on the main thread, and pays for each append in the thread that called it. With small values the per-call open and close of appendFile dominate, and file() is many times faster.',
    );
  }
  out.push(
    `- **The lock.** By default file()'s lock is a file created with O_EXCL and unlinked (\`withLock\` on its own: ${us(r.lock.fileWithLockIsolated)} here); \`lock: 'mkdir'\`, for network filesystems, uses proper-lockfile, which makes and removes a directory (mkdir + rmdir took ${us(p.mkdirRmdir)} here${r.lock.fileWithLockMkdirIsolated === undefined ? '' : `, \`withLock\` ${us(r.lock.fileWithLockMkdirIsolated)}`}). partd uses an fcntl lock${r.partdCosts ? ` (${us(r.partdCosts.lock)})` : ''}. file() takes the lock once per call, and calls that follow at once share it.`,
  );
  return out;
}

// ---- the page ----

/** The shuffle demo through laminate's stack and each Node.js peer. */
function shuffleTable(r: Results): string {
  const rows = r.shuffle.map((m) => {
    if (!m.verified) return [m.store, `FAILED: ${m.error}`, '', '', '', '', ''];
    return [m.store, count(m.values / m.appendSeconds), count(m.values / m.getSeconds), mb(m.bytes / MB), m.diskBytes === undefined ? '—' : mb(m.diskBytes / MB), m.peakRss === undefined ? '—' : mb(m.peakRss / MB), (m.appendSeconds + m.getSeconds).toFixed(2)];
  });
  return table(['store', 'append records/s', 'get records/s', 'stored MB', 'on disk MB', 'peak RSS MB', 'append + get s'], rows);
}

function memorySection(r: Results, chart: string | undefined): string[] {
  const m = r.memory;
  if (!m) return [];
  const head = ['## buffer(): memory budget against resident memory', ''];
  if ('error' in m) return [...head, `Not measured: ${m.error}`];
  const MiB = 2 ** 20;
  const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
  const over = m.peakAppend - m.baseline - m.budget;
  const within = m.peakAppend <= m.baseline + m.budget + m.allowance;
  const row = m.row;
  return [
    ...head,
    `${count(row.values)} values of 10 KB (${bytes(row.bytes)}, ${(row.bytes / m.budget).toFixed(1)}× the budget) appended 100 keys a call to \`${row.store}\` in a process of its own, then every key read back and checked${row.verified ? '' : ` — **the check FAILED: ${row.error}**`}. RSS is sampled after every call.`,
    '',
    table(
      ['', 'RSS'],
      [
        ['at the start (Node, the benchmark, its 32 MiB corpus)', mib(m.baseline)],
        ['memory budget (availableMemory)', mib(m.budget)],
        ['documented allowance above baseline + budget', mib(m.allowance)],
        ['peak while appending (sampled after each call)', mib(m.peakAppend)],
        ['peak over the whole run, gets included (the kernel\'s high-water mark)', mib(m.peak)],
        ['peak while appending − baseline − budget', mib(over)],
      ],
    ),
    '',
    `**${within ? 'Within' : 'Over'} budget + allowance**: the appends peaked at ${mib(m.peakAppend)}, ${within ? 'under' : 'above'} ${mib(m.baseline + m.budget + m.allowance)} (baseline + budget + allowance). The allowance is why: spilled values are dropped at once, but each is a buffer of its own whose memory V8 gives back only when a garbage collection finds it dead, and V8 starts one for such memory after about 64 MiB has been allocated since the last. So up to ~64 MiB of spilled values can still be resident, plus one call's batch and what the allocator keeps after a free. The overhead does not grow with the budget (73, 94 and 83 MiB with budgets of 16, 64 and 256 MiB on the machine that set the allowance); with \`node --expose-gc\` and a \`gc()\` after every call the same run stays within ~12 MiB of baseline + budget. Gets then hold whole keys (${bytes(m.largestKey)} at most here) on top.`,
    ...(chart ? ['', `![RSS over time for buffer()](${chart})`] : []),
  ];
}

export function markdown(r: Results, charts: { file: string; title: string }[] = []): string {
  const m = r.machine;
  const partd = 'error' in r.partd ? `Python partd: **not available** (${r.partd.error})` : `Python ${r.partd.python}, partd ${r.partd.partd} (Debian's /usr/bin/python3)`;
  // The load at the start says what else was running; the later reading also counts the
  // benchmark's own process, which keeps about one core busy, so it may be higher by one.
  const busy = r.load.start > 0.5 * m.cores || r.load.end > 0.5 * m.cores + 1;
  const lines: string[] = [
    '# Benchmarks',
    '',
    `Measured ${r.date} with \`${r.command}\`${r.quick ? ' (quick: a quarter of the data)' : ''}; ${r.repeat === 1 ? 'one run per measurement' : `best of ${r.repeat} runs per measurement`}, ${Math.round(r.seconds)} s in all.`,
    'Run `npm run bench` to measure your own machine; this page is rewritten by it.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cores} × ${m.cpu}`,
    `- Memory: ${m.memory}`,
    `- Disk: ${m.disk}`,
    `- ${m.os}; Node ${m.node}`,
    `- ${partd}`,
    `- Load average (1 min) at the start / before the network and pool sections (whose client processes load the machine themselves): ${r.load.start.toFixed(2)} / ${r.load.end.toFixed(2)}`,
  ];
  if (busy) lines.push('', `> **The machine was busy during this run** (a load average above half its ${m.cores} cores at the start, or above that plus the benchmark's own busy core later), so these numbers are noisy. Re-run on a quiet machine before quoting them.`);
  const versus = pairs(r);
  const behind = trails(versus);
  const bySize = charts.filter((c) => !c.file.includes('rss'));
  if (bySize.length > 0) lines.push('', '## At a glance', '', ...bySize.flatMap((c) => [`![${c.title}](${c.file})`, '']));
  lines.push(
    '## laminate against each peer',
    '',
    'Each row pairs a laminate row with the peer row that did the same work in this run; above 1× laminate is faster. The Node.js peers are compared with `file()` on (a)–(c) and with the demo\'s own stack on the shuffle; peak RSS is each process\'s high-water mark (every (a)–(c) and shuffle row runs in a process of its own, so it includes Node or Python and the 32 MiB corpus; in the typed-array, Arrow and episode pool rows it is the largest RSS seen after a call, in the benchmark\'s main process, which other rows share; in the network rows it is the high-water mark of the process holding the store: the server, or the direct row\'s process). "on disk" is the store\'s files after the appends (after the server closed, for the network rows); — where part of the data stays in memory.',
    '',
    ...peerTables(versus, (head, rows) => table(head, rows)),
    '## Where laminate trails, and why',
    '',
    behind.length === 0
      ? 'Nowhere in this run: laminate was at least as fast as every peer in every pairing and phase measured.'
      : `Of the ${phases(versus)} phases compared above (a pairing's append and get count apart), laminate is faster or even in ${phases(versus) - behind.length} and slower in these ${behind.length}:`,
    '',
    ...behind.map((t) => `- ${t.peer}, ${t.work}, ${t.phase}: ${t.ratio.toFixed(2)}×`),
    '',
    'What bounds the ratios, each from this run\'s own measurements of the operations the stores are made of:',
    '',
    ...limits(r),
  );
  lines.push('', '## Targets', '', table(['target', 'measured', 'status'], verdicts(r).map((v) => [v.target, v.measured, v.status]), [false, false, false]));
  lines.push('', ...memorySection(r, charts.find((c) => c.file.includes('rss'))?.file));
  for (const w of r.workloads) {
    lines.push('', `## (${w.id}) ${w.title}`, '', `${count(valueCount(w))} values, ${bytes(totalBytes(w))} in ${w.calls} append calls; then one get per key.`, '', workloadTable(r, w));
    const notes = [...r.laminate.values(), ...[...r.peers.values()].filter(Array.isArray)].flat().filter((x) => x.workload === w.id && x.note);
    for (const n of notes) lines.push('', `Note on ${n.store}: ${n.note}.`);
  }
  if (r.shuffle.length > 0) {
    const shape = r.shuffle[0];
    lines.push('', '## The shuffle demo', '', `The demo's ${count(shape.values)} order records hash-partitioned into 256 keys, 20,000 records an append call, then every partition read back and checked by count and checksum. laminate runs the demo's own stack; each Node.js peer gets what a user would write around it: a call's records of a partition packed with msgpackr and compressed with lz4-napi (the libraries laminate's layers use) behind a 4-byte length. Encoding and decoding count; making and checking the records does not. "stored" is the encoded bytes.`, '', shuffleTable(r));
  }
  if (r.typed) lines.push('', typedMarkdown(r.typed));
  if (r.arrow) lines.push('', arrowMarkdown(r.arrow));
  if (r.compression) lines.push('', compressionMarkdown(r.compression));
  if (r.network) lines.push('', networkMarkdown(r.network));
  if (r.pool) lines.push('', poolMarkdown(r.pool));
  if (r.startup) lines.push('', startupMarkdown(r.startup));
  const big = r.workloads.find((w) => w.id === 'c');
  if (big) {
    lines.push(
      '',
      '## 1 MB values against the disk',
      '',
      `\`dd\` writes the same volume in 1 MiB blocks. Without \`conv=fdatasync\` dd stops the clock when the data is in the page cache, which is where the stores' data is when their append returns (none of them fsyncs; \`file(dir, { fsync: true })\` does) — so that is the figure the target compares with. With \`conv=fdatasync\` it measures the device itself: a store beats it only because its data has not reached the disk yet.`,
      '',
      diskTable(r, big),
    );
  }
  lines.push(
    '',
    '## Lock cost',
    '',
    `- proper-lockfile \`await lock()\` + \`await release()\`: ${r.lock.properLockfile.toFixed(0)} µs; \`lockSync()\` + \`release()\`: ${r.lock.properLockfileSync.toFixed(0)} µs`,
    `- \`file(dir).withLock(async () => {})\` in the default multi-process mode (the lock file, plus the check for keys another process deleted): ${r.lock.fileWithLockIsolated.toFixed(0)} µs for a call on its own (the event loop turns between calls), ${r.lock.fileWithLock.toFixed(1)} µs each for calls made back to back`,
    ...(r.lock.fileWithLockMkdirIsolated === undefined ? [] : [`- the same call with \`lock: 'mkdir'\` (proper-lockfile's folder, for network filesystems): ${r.lock.fileWithLockMkdirIsolated.toFixed(0)} µs on its own`]),
    r.partdCosts === undefined ? '- partd.File lock (locket): not measured' : `- partd.File's lock (locket) acquire + release: ${r.partdCosts.lock.toFixed(1)} µs`,
    '',
    'file() takes the directory lock once per call, not per key, and a call that follows before the event loop turns (a burst of concurrent calls, or `for (…) await store.get(k)`) keeps it instead of taking it again (up to 256 concurrent calls or 25 ms; up to 128 calls or 5 ms for calls made one after another), so other processes still get their turn. `exclusive: true` takes it once for the life of the store. partd\'s lock is an fcntl lock (locket); file()\'s default is a file created with O_EXCL (open, write of its owner, fstat) and unlinked; proper-lockfile\'s is a directory made and removed, refreshed by a timer, with a stat of its own.',
    '',
    '## How this is measured',
    '',
    '- Values are slices of a 32 MiB corpus of CSV event-log lines (timestamps, ids, skewed categories, numbers) generated from a fixed seed: compressible like real records, neither random nor zeros. The "on disk" column shows what each codec makes of them; 100-byte values are too short to compress and grow by the 8-byte frame header.',
    '- Each workload appends its values in calls of the stated number of keys, one value per key per call, cycling through the keys; then reads every key once with `get`. Only the time inside `append` and `get` is counted; building each batch and checking the reads is not.',
    '- Every read is checked: each key must come back with the expected length and CRC-32, computed once from the corpus. A row that fails shows no numbers. The Python peer appends the very same bytes (the same value → key formula) and is checked against the same figures.',
    `- Each store runs each of (a), (b), (c) and the shuffle in a Node or Python process of its own, and "peak RSS" is that process's high-water mark as the kernel keeps it (getrusage), Node or Python and the 32 MiB corpus included; \`sync\` runs before every measurement so that none pays for the previous one's writeback. Stores live under ${'`'}os.tmpdir()${'`'} unless \`--dir\` says otherwise.`,
    '- The Node.js peers do what a user would build on them: LevelDB (classic-level, default options, so snappy-compressed blocks) and LMDB (lmdb, `noSync: true`, so it commits to the page cache like the other stores) keep one record per value under the key and a sequence number, one batch or transaction per append call, and read a key with a range read; `fs.promises.appendFile` keeps one file per key and appends to the keys of a call in parallel.',
    '- MB = 10^6 bytes. "on disk" is the size of the store\'s files after the appends, as a share of the bytes appended (— for buffer(), which holds part of the data in memory).',
    '- "vs partd" compares values/s with the partd stack named: file() with partd.File, buffer() with partd.Buffer, every compressor with partd.ZLib (only zlib is like for like).',
    '- Options: `npm run bench` alone is the quick mode (a quarter of the data, one run per measurement, gzip and brotli only in the compression table; under 3 minutes on 2 cores); `npm run bench -- --full` measures everything at full size, best of 3. Either rewrites this page, docs/benchmarks.json (every number, and every pairing of the tables above) and the charts in docs/benchmarks/; `--out FILE` writes them beside FILE instead. Also: `--repeat N` (best of N runs), `--only file,buffer,leveldb,…`, `--workloads a,b`, `--no-python`, `--no-shuffle`, `--no-memory`, `--no-arrow`, `--no-typed`, `--typed-only`, `--no-compression`, `--compression-only`, `--no-network`, `--network-only`, `--no-pool`, `--pool-only`, `--dir PATH`, and `--render RUN.json` (draws the page and the charts again from a run\'s JSON, measuring nothing).',
    '',
  );
  return lines.join('\n');
}

/** The console version: the targets and the three tables. */
export function summary(r: Results): string {
  const out: string[] = [];
  for (const w of r.workloads) out.push(`(${w.id}) ${w.title}: ${count(valueCount(w))} values, ${bytes(totalBytes(w))}`, workloadTable(r, w), '');
  if (r.typed) out.push(typedMarkdown(r.typed), '');
  if (r.arrow) out.push(arrowMarkdown(r.arrow), '');
  if (r.compression) out.push(compressionMarkdown(r.compression), '');
  if (r.network) out.push(networkMarkdown(r.network), '');
  if (r.pool) out.push(poolMarkdown(r.pool), '');
  out.push('Targets', table(['target', 'measured', 'status'], verdicts(r).map((v) => [v.target, v.measured, v.status]), [false, false, false]));
  out.push('', `Lock: proper-lockfile ${r.lock.properLockfile.toFixed(0)} µs async, ${r.lock.properLockfileSync.toFixed(0)} µs sync; file().withLock ${r.lock.fileWithLockIsolated.toFixed(0)} µs alone${r.lock.fileWithLockMkdirIsolated === undefined ? '' : ` (lock: 'mkdir' ${r.lock.fileWithLockMkdirIsolated.toFixed(0)} µs)`}, ${r.lock.fileWithLock.toFixed(1)} µs back to back; partd (locket) ${r.partdCosts?.lock.toFixed(1) ?? '?'} µs`);
  return out.join('\n');
}

/** The results back from toJson()'s JSON, to draw the page again without measuring. */
export function fromJson(json: ReturnType<typeof toJson>): Results {
  return { ...json, laminate: new Map(Object.entries(json.laminate)), nodePeers: new Map(Object.entries(json.nodePeers)), peers: new Map(Object.entries(json.peers)) as Results['peers'] };
}

/** The results as plain JSON (maps become objects), for docs/benchmarks.json. */
export function toJson(r: Results) {
  return { ...r, laminate: Object.fromEntries(r.laminate), nodePeers: Object.fromEntries(r.nodePeers), peers: Object.fromEntries(r.peers), versus: pairs(r) };
}
