// The network benchmark: append throughput of 1, 4 and 8 client processes
// through one serve() of buffer(dict(), file()), against the same appends made
// directly on buffer(dict(), file()) in one process, and against Python
// partd's zmq Server and Client doing the same. 10 KB values, 10 keys a call,
// 100 keys; every run reads every key back and checks each value's producer,
// bytes and (for laminate) order.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { client } from 'laminate';
import { diskUsage } from './disk.js';
import { runAlone } from './measure.js';
import { type NetWork, checkNet, keyName } from './net-values.js';
import { PYTHON } from './python.js';

const here = dirname(fileURLToPath(import.meta.url));
const NODE = [process.execPath, ...process.execArgv, join(here, 'net-node.ts')];
const PARTD = [PYTHON, join(here, 'partd_net.py')];

export interface NetRow {
  /** direct, laminate or partd */
  kind: 'direct' | 'laminate' | 'partd';
  label: string;
  producers: number;
  bytes: number;
  seconds: number;
  verified: boolean;
  error?: string;
  /** Peak RSS of the process holding the store (the server, or the direct row's process). */
  peakRss?: number;
  /** Bytes of the store's files once it closed. */
  diskBytes?: number;
}

export interface NetResults {
  valueBytes: number;
  values: number;
  keys: number;
  rows: NetRow[];
}

interface Run {
  seconds: number;
  error?: string;
  peakRss?: number;
  diskBytes?: number;
}

/** The kernel's high-water mark of a running process's resident memory (VmHWM), in bytes. */
function peakRssOf(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined; // not Linux, or the process is gone
  }
}

/** Waits for a child to exit. */
export function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.once('close', resolve) : resolve(undefined)));
}

/** Starts a process that prints lines; resolves each printed line in turn. */
export function started(command: string[]): { child: ChildProcess; next: () => Promise<string>; stderr: () => string } {
  const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let partial = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.on('close', (code) => {
    for (const waiter of waiters.splice(0)) waiter(`exited ${code}: ${err.trim().split('\n').slice(-2).join(' ')}`);
  });
  return {
    child,
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    stderr: () => err,
  };
}

/** Runs `producers` client processes at once through one server; seconds from the first start to the last end. */
async function throughServer(kind: 'laminate' | 'partd', root: string, work: NetWork): Promise<Run> {
  const dir = mkdtempSync(join(root, `${kind}-`));
  const server = started(kind === 'laminate' ? [...NODE, 'server', dir] : [...PARTD, 'server', dir]);
  try {
    const address = await server.next();
    if (!/^tcp:\/\//.test(address)) return { seconds: 0, error: `server: ${address}` };
    const shape = [work.calls, work.keysPerCall, work.keys, work.valueBytes].map(String);
    const clients = Array.from({ length: work.producers }, (_, p) =>
      started(kind === 'laminate' ? [...NODE, 'client', address, String(p), ...shape, '8'] : [...PARTD, 'client', address, String(p), ...shape]),
    );
    for (const c of clients) {
      const ready = await c.next();
      if (ready !== 'ready') return { seconds: 0, error: `client: ${ready}` };
    }
    for (const c of clients) c.child.stdin!.write('go\n');
    const times = (await Promise.all(clients.map((c) => c.next()))).map((line) => {
      try {
        return JSON.parse(line) as { start: number; end: number };
      } catch {
        throw new Error(`client: ${line}`);
      }
    });
    for (const c of clients) c.child.stdin!.end();
    const seconds = Math.max(...times.map((t) => t.end)) - Math.min(...times.map((t) => t.start));
    const error = kind === 'laminate' ? await verifyLaminate(address, work) : await verifyPartd(address, work);
    const peakRss = peakRssOf(server.child.pid);
    server.child.stdin!.end();
    await exited(server.child);
    return { seconds, error, peakRss, diskBytes: diskUsage(dir) };
  } catch (error) {
    return { seconds: 0, error: (error as Error).message };
  } finally {
    server.child.stdin!.end();
    await exited(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function verifyLaminate(address: string, work: NetWork): Promise<string | undefined> {
  const reader = client(address);
  try {
    // A key at a time: the whole store is more than one reply may carry.
    const lists: Uint8Array[] = [];
    for (let k = 0; k < work.keys; k++) lists.push(await reader.get(keyName(k)));
    return checkNet(lists, work);
  } finally {
    await reader.close();
  }
}

async function verifyPartd(address: string, work: NetWork): Promise<string | undefined> {
  const verify = started([...PARTD, 'verify', address, String(work.producers), String(work.calls), String(work.keysPerCall), String(work.keys), String(work.valueBytes)]);
  const line = await verify.next();
  try {
    const result = JSON.parse(line) as { verified: boolean; error: string | null };
    return result.verified ? undefined : (result.error ?? 'not verified');
  } catch {
    return `verify: ${line}`;
  }
}

async function direct(root: string, work: NetWork): Promise<Run> {
  const dir = mkdtempSync(join(root, 'direct-'));
  try {
    const run = started([...NODE, 'direct', dir, ...[work.producers, work.calls, work.keysPerCall, work.keys, work.valueBytes].map(String)]);
    const line = await run.next();
    // Its appends are done; the process still closes its store (buffer() flushes): let it finish before its directory goes.
    const peakRss = peakRssOf(run.child.pid);
    await exited(run.child);
    try {
      const { start, end, error } = JSON.parse(line) as { start: number; end: number; error?: string };
      return { seconds: end - start, error, peakRss, diskBytes: diskUsage(dir) };
    } catch {
      return { seconds: 0, error: `direct: ${line}` };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The best of `repeat` runs, or the first failure. */
async function bestOf(repeat: number, run: () => Promise<Run>): Promise<Run> {
  let kept: Run | undefined;
  for (let i = 0; i < repeat; i++) {
    const next = await run();
    if (next.error) return next;
    const peakRss = Math.max(kept?.peakRss ?? 0, next.peakRss ?? 0) || undefined;
    if (!kept || next.seconds < kept.seconds) kept = next;
    kept = { ...kept, peakRss };
  }
  return kept!;
}

export async function networkBench(root: string, opts: { quick: boolean; repeat: number; python: boolean; partdInstalled?: boolean }): Promise<NetResults> {
  const valueBytes = 10_000;
  const keysPerCall = 10;
  const keys = 100;
  // The same values in every row: 4,000 (quick) or 32,000 (full) values of 10 KB, split among the producers.
  const values = opts.quick ? 4000 : 32_000;
  const rows: NetRow[] = [];
  const row = (kind: NetRow['kind'], label: string, producers: number, run: Run) => {
    const r: NetRow = { kind, label, producers, bytes: values * valueBytes, seconds: run.seconds, verified: !run.error, peakRss: run.peakRss, diskBytes: run.diskBytes, ...(run.error ? { error: run.error } : {}) };
    rows.push(r);
    const speed = r.verified ? `${(r.bytes / r.seconds / 1e6).toFixed(0).padStart(6)} MB/s, reads verified` : `FAILED: ${r.error}`;
    console.error(`  ${label.padEnd(52)} ${speed}`);
  };
  const shape = (producers: number): NetWork => ({ producers, calls: values / producers / keysPerCall, keysPerCall, keys, valueBytes });

  row('direct', 'buffer(dict(), file()) directly, 1 process', 8, await bestOf(opts.repeat, () => direct(root, shape(8))));
  for (const producers of [1, 4, 8]) {
    row('laminate', `${producers} × client() → serve(buffer(dict(), file()))`, producers, await bestOf(opts.repeat, () => throughServer('laminate', root, shape(producers))));
  }
  if (opts.python && opts.partdInstalled !== false) {
    for (const producers of [1, 4, 8]) {
      row('partd', `${producers} × partd.zmq.Client → Server(Buffer(Dict(), File()))`, producers, await bestOf(opts.repeat, () => throughServer('partd', root, shape(producers))));
    }
  }
  return { valueBytes, values, keys, rows };
}

const mbps = (row: NetRow) => row.bytes / row.seconds / 1e6;

export function networkMarkdown(r: NetResults): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const direct = r.rows.find((row) => row.kind === 'direct' && row.verified);
  const partdWith = (producers: number) => r.rows.find((row) => row.kind === 'partd' && row.producers === producers && row.verified);
  const out = [
    '## Network: many clients through one server',
    '',
    `${r.values.toLocaleString('en-US')} values of ${r.valueBytes.toLocaleString('en-US')} bytes (${((r.values * r.valueBytes) / 1e6).toFixed(0)} MB) appended to ${r.keys} keys, 10 keys a call, shared among 1, 4 or 8 client processes on this machine (loopback TCP), each with up to 8 calls in flight. The server is one more process; the clock runs from the first client's start to the last client's last acknowledged append (partd: to the answer of a read sent after its appends, since partd's append returns once sent). Every run then reads every key back and checks that each value is there once, intact, and (for laminate) in its producer's order; partd's order is not checked, because partd.Buffer returns a spilled key's in-memory part before its spilled part. The direct row makes the same appends in one process on buffer(dict(), file()) with no network.`,
    '',
    line(['store', 'clients', 'append MB/s', 'vs direct', 'vs partd server', 'peak RSS MB (store process)', 'on disk MB']),
    line([':--', '--:', '--:', '--:', '--:', '--:', '--:']),
  ];
  for (const row of r.rows) {
    if (!row.verified) {
      out.push(line([row.label, String(row.producers), `FAILED: ${row.error}`, '', '', '', '']));
      continue;
    }
    const peer = row.kind === 'laminate' ? partdWith(row.producers) : undefined;
    out.push(
      line([
        row.label,
        row.kind === 'direct' ? '—' : String(row.producers),
        mbps(row).toFixed(0),
        direct && row.kind !== 'direct' ? `${(mbps(row) / mbps(direct)).toFixed(2)}×` : '—',
        peer ? `${(mbps(row) / mbps(peer)).toFixed(2)}×` : '—',
        row.peakRss === undefined ? '—' : (row.peakRss / 1e6).toFixed(0),
        row.diskBytes === undefined ? '—' : (row.diskBytes / 1e6).toFixed(0),
      ]),
    );
  }
  if (!r.rows.some((row) => row.kind === 'partd')) out.push('', 'Python partd was not measured (--no-python, or partd / python3-zmq not installed).');
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runAlone('network', async (root, opts) => networkMarkdown(await networkBench(root, opts)));
}
