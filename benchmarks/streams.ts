// npm run bench -- --streams-only [--full]   (or: npx tsx --conditions=source benchmarks/streams.ts [--full])
//
// Append-to-delivery latency and throughput of a live stream, from a producer
// process to a consumer (this process): through file() and log() (follow), through
// client() to a server in a third process (follow), against a plain Unix pipe
// carrying the same bytes and against polling file()'s get every 10 ms; through
// redis() on a redis-server started here, its follower woken by the key's shard
// channel, and polling every 20 ms (as a user who may not SSUBSCRIBE).
// Latency: 1 KiB records at 1,000 a second, each stamped with the machine's
// monotonic clock when made; the consumer takes the time each one arrives.
// Throughput: 64 KiB records as fast as the producer can write them, bytes
// over the time from the first record made to the last one delivered. The
// client() producer keeps up to 8 appends unanswered (stream-peer.ts), as a
// pipe writer does not wait for its reader, so the row is the stream's
// throughput and not one round trip per record.
// Targets: p99 ≤ 5 ms through client() and file() at 1,000 records/s, and
// throughput ≥ 50% of the pipe's for 64 KiB records.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, file, log, redis } from 'laminate';
import { type Servers, singleServer } from '../packages/redis/test/fixtures/servers.js';

const peer = fileURLToPath(new URL('./stream-peer.ts', import.meta.url));

export interface StreamRow {
  path: string;
  test: 'latency' | 'throughput';
  recordBytes: number;
  records: number;
  p50Ms: number;
  p99Ms: number;
  mbPerS: number;
  /** Every record arrived, once, in the order made. */
  verified: boolean;
}

/** How each child started here ended, noted from its start (a child may end before anyone waits for it). */
const ended = new WeakMap<ChildProcess, Promise<void>>();

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', peer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  ended.set(child, new Promise<void>((resolve, reject) => child.on('close', (code, signal) => (code === 0 || signal === 'SIGTERM' ? resolve() : reject(new Error(`stream-peer ended with ${code ?? signal}`))))));
  return child;
}

/** Takes `count` records of `size` bytes from `pieces`, noting when each arrives. */
async function consume(pieces: AsyncIterable<Uint8Array>, count: number, size: number): Promise<{ latencies: number[]; first: bigint; last: bigint; ordered: boolean }> {
  const latencies: number[] = [];
  let carry = Buffer.alloc(0);
  let first = 0n;
  let last = 0n;
  let previous = 0n;
  let ordered = true;
  for await (const piece of pieces) {
    const now = process.hrtime.bigint();
    carry = carry.byteLength === 0 ? Buffer.from(piece) : Buffer.concat([carry, piece]);
    let offset = 0;
    for (; carry.byteLength - offset >= size; offset += size) {
      const made = carry.readBigUInt64LE(offset);
      if (latencies.length === 0) first = made;
      if (made <= previous) ordered = false;
      previous = made;
      latencies.push(Number(now - made) / 1e6);
      last = now;
    }
    carry = carry.subarray(offset);
    if (latencies.length >= count) break;
  }
  return { latencies, first, last, ordered: ordered && latencies.length === count && carry.byteLength === 0 };
}

async function* pollGet(dir: string, everyMs: number): AsyncIterable<Uint8Array> {
  const store = file(dir);
  let seen = 0;
  try {
    for (;;) {
      const bytes = await store.get('s');
      if (bytes.byteLength > seen) {
        yield bytes.subarray(seen);
        seen = bytes.byteLength;
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  } finally {
    await store.close();
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(path: string, test: StreamRow['test'], count: number, size: number, rate: number, root: string): Promise<StreamRow> {
  const dir = mkdtempSync(join(root, 'stream-'));
  const children: ChildProcess[] = [];
  let closeConsumer = async () => undefined as void;
  try {
    let source: AsyncIterable<Uint8Array>;
    if (path === 'Unix pipe') {
      const producer = start(['produce', 'pipe', '-', String(count), String(size), String(rate)]);
      children.push(producer);
      source = producer.stdout!;
    } else if (path.startsWith('redis() follow')) {
      const server = await redisServer();
      const url = `${server.url}/${randomUUID()}`;
      // A user who may not SSUBSCRIBE: the follower is never notified and polls every 20 ms.
      const consumer = redis(path === 'redis() follow' ? url : url.replace('redis://', 'redis://nosub:pw@'));
      closeConsumer = () => consumer.close();
      source = consumer.follow('s');
      children.push(start(['produce', 'redis', url, String(count), String(size), String(rate)]));
    } else if (path === 'client() follow') {
      const addressFile = join(dir, 'address');
      const server = start(['serve', addressFile]);
      children.push(server);
      while (!existsSync(addressFile) || readFileSync(addressFile, 'utf8') === '') await new Promise((resolve) => setTimeout(resolve, 10));
      const address = readFileSync(addressFile, 'utf8');
      const consumer = client(address);
      closeConsumer = () => consumer.close();
      source = consumer.follow('s');
      children.push(start(['produce', 'client', address, String(count), String(size), String(rate)]));
    } else {
      const store = join(dir, 'store');
      if (path === 'file() follow' || path === 'log() follow') {
        const consumer = path === 'log() follow' ? log(store) : file(store);
        closeConsumer = () => consumer.close();
        source = consumer.follow('s');
      } else {
        source = pollGet(store, 10);
      }
      children.push(start(['produce', path === 'log() follow' ? 'log' : 'file', store, String(count), String(size), String(rate)]));
    }
    const { latencies, first, last, ordered } = await consume(source, count, size);
    const sorted = [...latencies].sort((a, b) => a - b);
    const seconds = Number(last - first) / 1e9;
    return { path, test, recordBytes: size, records: count, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), mbPerS: (count * size) / 1e6 / seconds, verified: ordered };
  } finally {
    await closeConsumer();
    for (const child of children) {
      if (child.exitCode === null) child.kill('SIGTERM');
      await ended.get(child)!.catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export const STREAM_PATHS = ['Unix pipe', 'file() follow', 'log() follow', 'client() follow', 'redis() follow', 'redis() follow, polling', 'poll get() every 10 ms'] as const;

/** The redis-server of the redis() rows, started on first use, with the user "nosub" who may not subscribe. */
let redisServing: Promise<Servers> | undefined;
function redisServer(): Promise<Servers> {
  redisServing ??= singleServer().then((server) => {
    server.nodes[0].cli('ACL', 'SETUSER', 'nosub', 'on', '>pw', '~*', '+@all', '-ssubscribe', '-subscribe', '&*');
    return server;
  });
  return redisServing;
}

export async function streamsBench(root: string, opts: { quick: boolean }): Promise<StreamRow[]> {
  const rows: StreamRow[] = [];
  const latencyCount = opts.quick ? 2000 : 10_000;
  const throughputCount = opts.quick ? 400 : 2000;
  try {
    for (const path of STREAM_PATHS) {
      console.error(`bench: streams, ${path}`);
      rows.push(await measure(path, 'latency', latencyCount, 1024, 1000, root));
      rows.push(await measure(path, 'throughput', throughputCount, 64 << 10, 0, root));
    }
  } finally {
    await (await redisServing)?.stop();
    redisServing = undefined;
  }
  return rows;
}

export function streamsMarkdown(rows: readonly StreamRow[]): string {
  const pipe = rows.find((row) => row.path === 'Unix pipe' && row.test === 'throughput');
  const lines = [
    '| path | test | records | p50 ms | p99 ms | MB/s | of the pipe | verified |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((row) => {
      const share = row.test === 'throughput' && pipe ? `${Math.round((100 * row.mbPerS) / pipe.mbPerS)}%` : '';
      const records = `${row.records} × ${row.recordBytes >= 1024 ? `${row.recordBytes / 1024} KiB` : `${row.recordBytes} B`}${row.test === 'latency' ? ' at 1,000/s' : ''}`;
      return `| ${row.path} | ${row.test} | ${records} | ${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${row.mbPerS.toFixed(1)} | ${share} | ${row.verified ? 'yes' : 'NO'} |`;
    }),
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = mkdtempSync(join(tmpdir(), 'laminate-streams-bench-'));
  try {
    console.log(streamsMarkdown(await streamsBench(root, { quick: !process.argv.includes('--full') })));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
