// The Redis benchmark: redis() against serve()/client() and Python partd's
// zmq server, with the same producers and values as the network benchmark
// (network.ts): 1, 4 and 8 producer processes appending 10 KB values, 10 keys
// a call, 100 keys, up to 8 calls in flight each; the clock runs from the
// first producer's start to the last one's last acknowledged append. Rows:
//   serve(buffer(dict(), file())) through client();  partd.zmq Server(Buffer(Dict(), File()));
//   redis() on one redis-server;  redis() on a 3-master cluster;
//   plain APPEND on the same connection (what exactly-once costs: the script, the producer record).
// Every run reads every key back (timed: the get column) and checks each value
// once, intact and, except for partd, in its producer's order. Then the
// shuffle demo over msgpack(lz4(buffer(dict(), redis()))) beside the demo's
// own stack over file(). The servers are started here on free loopback ports
// and stopped after.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buffer, client, dict, lz4, msgpack, redis } from 'laminate';
import { connect } from '../packages/redis/src/connection.js';
import { redisSettings } from '../packages/redis/src/options.js';
import { type Servers, cluster, singleServer } from '../packages/redis/test/fixtures/servers.js';
import { BATCH, type Expected, KEYS, type Order, PARTITIONS, partitionBatch, rng, summarize } from '../examples/orders.js';
import { type Measurement, appendThenGet, runAlone } from './measure.js';
import { type NetWork, checkNet, keyName } from './net-values.js';
import { exited, started } from './network.js';
import { PYTHON } from './python.js';
import { shuffleOnce, shuffleShape } from './shuffle.js';

const here = dirname(fileURLToPath(import.meta.url));
const NODE = [process.execPath, ...process.execArgv];
const PARTD = [PYTHON, join(here, 'partd_net.py')];
const IN_FLIGHT = '8';

export type RedisRowKind = 'serve' | 'partd' | 'redis' | 'redis-cluster' | 'plain-append';

export interface RedisRow {
  kind: RedisRowKind;
  label: string;
  producers: number;
  bytes: number;
  appendSeconds: number;
  /** Reading every key back at once (not measured for partd, whose reads run in its verifying process). */
  getSeconds?: number;
  verified: boolean;
  error?: string;
}

export interface RedisResults {
  valueBytes: number;
  values: number;
  keys: number;
  rows: RedisRow[];
  shuffle: Measurement[];
}

interface Run {
  appendSeconds: number;
  getSeconds?: number;
  error?: string;
}

/** Starts the producers, lets them go at once, and times them; then `verify` reads everything back. */
async function produce(commands: string[][], verify: () => Promise<Run>): Promise<Run> {
  const producers = commands.map(started);
  try {
    for (const p of producers) {
      const ready = await p.next();
      if (ready !== 'ready') return { appendSeconds: 0, error: `producer: ${ready}` };
    }
    for (const p of producers) p.child.stdin!.write('go\n');
    const times: { start: number; end: number }[] = [];
    for (const p of producers) {
      const line = await p.next();
      try {
        times.push(JSON.parse(line));
      } catch {
        return { appendSeconds: 0, error: `producer: ${line}` };
      }
    }
    const appendSeconds = Math.max(...times.map((t) => t.end)) - Math.min(...times.map((t) => t.start));
    return { ...(await verify()), appendSeconds };
  } finally {
    for (const p of producers) p.child.stdin!.end();
    await Promise.all(producers.map((p) => exited(p.child)));
  }
}

/** Reads every key at once, timed, and checks what came back. */
async function readBack(get: (key: string) => Promise<Uint8Array>, work: NetWork): Promise<Run> {
  const t0 = performance.now();
  const lists = await Promise.all(Array.from({ length: work.keys }, (_, k) => get(keyName(k))));
  const getSeconds = (performance.now() - t0) / 1000;
  return { appendSeconds: 0, getSeconds, error: checkNet(lists, work) };
}

const shapeArgs = (w: NetWork) => [w.calls, w.keysPerCall, w.keys, w.valueBytes].map(String);

async function throughServe(root: string, work: NetWork): Promise<Run> {
  const dir = mkdtempSync(join(root, 'serve-'));
  const server = started([...NODE, join(here, 'net-node.ts'), 'server', dir]);
  try {
    const address = await server.next();
    if (!address.startsWith('tcp://')) return { appendSeconds: 0, error: `server: ${address}` };
    const commands = Array.from({ length: work.producers }, (_, p) => [...NODE, join(here, 'net-node.ts'), 'client', address, String(p), ...shapeArgs(work), IN_FLIGHT]);
    return await produce(commands, async () => {
      const reader = client(address);
      try {
        return await readBack((key) => reader.get(key), work);
      } finally {
        await reader.close();
      }
    });
  } finally {
    server.child.stdin!.end();
    await exited(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughPartd(root: string, work: NetWork): Promise<Run> {
  const dir = mkdtempSync(join(root, 'partd-'));
  const server = started([...PARTD, 'server', dir]);
  try {
    const address = await server.next();
    if (!address.startsWith('tcp://')) return { appendSeconds: 0, error: `server: ${address}` };
    const commands = Array.from({ length: work.producers }, (_, p) => [...PARTD, 'client', address, String(p), ...shapeArgs(work)]);
    return await produce(commands, async () => {
      const line = await started([...PARTD, 'verify', address, String(work.producers), ...shapeArgs(work)]).next();
      try {
        const result = JSON.parse(line) as { verified: boolean; error: string | null };
        return { appendSeconds: 0, error: result.verified ? undefined : (result.error ?? 'not verified') };
      } catch {
        return { appendSeconds: 0, error: `verify: ${line}` };
      }
    });
  } finally {
    server.child.stdin!.end();
    await exited(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Producers through redis() on `servers` (one server, or a cluster), in a namespace of the run's own. */
async function throughRedis(servers: Servers, clustered: boolean, work: NetWork): Promise<Run> {
  const namespace = randomUUID();
  const spec = JSON.stringify(redis(clustered ? { cluster: servers.urls, namespace } : `${servers.url}/${namespace}`).describe());
  const commands = Array.from({ length: work.producers }, (_, p) => [...NODE, join(here, 'redis-node.ts'), 'store', spec, String(p), ...shapeArgs(work), IN_FLIGHT]);
  try {
    return await produce(commands, async () => {
      const reader = redis(clustered ? { cluster: servers.urls, namespace } : `${servers.url}/${namespace}`);
      try {
        return await readBack((key) => reader.get(key), work);
      } finally {
        await reader.close();
      }
    });
  } finally {
    for (const node of servers.nodes) node.cli('FLUSHALL');
  }
}

/** The same appends as plain APPEND commands on one server: the baseline of exactly-once. */
async function plainAppends(servers: Servers, work: NetWork): Promise<Run> {
  const prefix = `plain:${randomUUID()}:`;
  const commands = Array.from({ length: work.producers }, (_, p) => [...NODE, join(here, 'redis-node.ts'), 'plain', servers.url, prefix, String(p), ...shapeArgs(work), IN_FLIGHT]);
  try {
    return await produce(commands, async () => {
      const reader = connect(redisSettings(servers.url, {}));
      try {
        return await readBack(async (key) => (await reader.getBuffer(`${prefix}${key}`)) ?? new Uint8Array(), work);
      } finally {
        reader.disconnect();
      }
    });
  } finally {
    servers.nodes[0].cli('FLUSHALL');
  }
}

/** The shuffle demo's records over msgpack(lz4(buffer(dict(), redis()))), as shuffle.ts runs them over file(). */
async function shuffleOverRedis(root: string, target: Parameters<typeof redis>[0], label: string, quick: boolean): Promise<Measurement> {
  const shape = shuffleShape(quick);
  const m: Measurement = { store: label, workload: 'shuffle', values: shape.records, bytes: 0, appendSeconds: 0, getSeconds: 0, verified: false };
  const buffered = buffer(dict(), redis(target), { availableMemory: shape.memoryMiB * 2 ** 20 });
  const stack = msgpack<Order>(lz4(buffered));
  const expected: Expected[] = Array.from({ length: PARTITIONS }, () => ({ count: 0, checksum: 0 }));
  const random = rng(42);
  // appendThenGet removes a directory after the run; this stack has none on disk but its scratch one.
  return appendThenGet(m, stack, mkdtempSync(join(root, 'shuffle-redis-')), {
    calls: Math.ceil(shape.records / BATCH),
    batch: (c) => Object.fromEntries(partitionBatch(c * BATCH, Math.min(BATCH, shape.records - c * BATCH), random, expected)),
    afterAppends: () => (m.bytes = buffered.spilledBytes + buffered.memoryUsage),
    keys: KEYS,
    wrong: (orders, p) => {
      const got = summarize(orders);
      return got.count !== expected[p].count || got.checksum !== expected[p].checksum ? `${got.count} records, expected ${expected[p].count}` : undefined;
    },
  });
}

/** The best of `repeat` runs, or the first failure. */
async function bestOf(repeat: number, run: () => Promise<Run>): Promise<Run> {
  let kept: Run | undefined;
  for (let i = 0; i < repeat; i++) {
    const next = await run();
    if (next.error) return next;
    // Each phase's best; a row whose reads are not timed (partd) keeps none.
    kept = !kept ? next : { appendSeconds: Math.min(kept.appendSeconds, next.appendSeconds), getSeconds: next.getSeconds === undefined ? undefined : Math.min(kept.getSeconds ?? Infinity, next.getSeconds) };
  }
  return kept!;
}

export async function redisBench(root: string, opts: { quick: boolean; repeat: number; python: boolean }): Promise<RedisResults> {
  const valueBytes = 10_000;
  const keysPerCall = 10;
  const keys = 100;
  const values = opts.quick ? 4000 : 32_000;
  const rows: RedisRow[] = [];
  const shape = (producers: number): NetWork => ({ producers, calls: values / producers / keysPerCall, keysPerCall, keys, valueBytes });
  const row = (kind: RedisRowKind, label: string, producers: number, run: Run) => {
    const r: RedisRow = { kind, label, producers, bytes: values * valueBytes, appendSeconds: run.appendSeconds, getSeconds: run.getSeconds, verified: !run.error, ...(run.error ? { error: run.error } : {}) };
    rows.push(r);
    console.error(`  ${label.padEnd(48)} ${r.verified ? `${(r.bytes / r.appendSeconds / 1e6).toFixed(0).padStart(5)} MB/s append, reads verified` : `FAILED: ${r.error}`}`);
  };
  const [single, masters] = await Promise.all([singleServer(), cluster(3)]);
  try {
    for (const producers of [1, 4, 8]) {
      const work = shape(producers);
      row('serve', `${producers} × client() → serve(buffer(dict(), file()))`, producers, await bestOf(opts.repeat, () => throughServe(root, work)));
      if (opts.python) row('partd', `${producers} × partd.zmq.Client → Server(Buffer(Dict(), File()))`, producers, await bestOf(opts.repeat, () => throughPartd(root, work)));
      row('redis', `${producers} × redis() → one redis-server`, producers, await bestOf(opts.repeat, () => throughRedis(single, false, work)));
      row('redis-cluster', `${producers} × redis({ cluster }) → 3 masters`, producers, await bestOf(opts.repeat, () => throughRedis(masters, true, work)));
      row('plain-append', `${producers} × plain APPEND (ioredis) → one redis-server`, producers, await bestOf(opts.repeat, () => plainAppends(single, work)));
    }
    const shuffle: Measurement[] = [];
    const dir = mkdtempSync(join(root, 'shuffle-file-'));
    for (const next of [
      () => shuffleOnce('laminate', dir, shuffleShape(opts.quick)),
      () => shuffleOverRedis(root, `${single.url}/shuffle-${randomUUID()}`, 'msgpack(lz4(buffer(dict(), redis())))', opts.quick),
      () => shuffleOverRedis(root, { cluster: masters.urls, namespace: `shuffle-${randomUUID()}` }, 'msgpack(lz4(buffer(dict(), redis({ cluster }))))', opts.quick),
    ]) {
      const m = await next();
      shuffle.push(m);
      console.error(`  shuffle: ${m.store.padEnd(48)} ${m.verified ? `${(m.values / m.appendSeconds / 1e3).toFixed(0)} k records/s append, ${(m.values / m.getSeconds / 1e3).toFixed(0)} k records/s get` : `FAILED: ${m.error}`}`);
      for (const node of [...single.nodes, ...masters.nodes]) node.cli('FLUSHALL');
    }
    rmSync(dir, { recursive: true, force: true });
    return { valueBytes, values, keys, rows, shuffle };
  } finally {
    await Promise.all([single.stop(), masters.stop()]);
  }
}

const mbps = (bytes: number, seconds: number) => bytes / seconds / 1e6;

export function redisMarkdown(r: RedisResults): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const peer = (kind: RedisRowKind, producers: number) => r.rows.find((row) => row.kind === kind && row.producers === producers && row.verified);
  const ratio = (row: RedisRow, other: RedisRow | undefined) => (other && other !== row ? `${(other.appendSeconds / row.appendSeconds).toFixed(2)}×` : '—');
  const out = [
    '## Redis: producers through redis() against serve() and partd',
    '',
    `${r.values.toLocaleString('en-US')} values of ${r.valueBytes.toLocaleString('en-US')} bytes (${((r.values * r.valueBytes) / 1e6).toFixed(0)} MB) appended to ${r.keys} keys, 10 keys a call, shared among 1, 4 or 8 producer processes on this machine (loopback TCP), each with up to 8 calls in flight. The clock runs from the first producer's start to the last one's last acknowledged append. redis-server (no persistence) and the 3-master cluster run on the same machine as the producers. Every run then reads all keys back at once (the get column; partd's reads run in its checking process and are not timed) and checks every value once, intact, and, except for partd, in its producer's order. The plain APPEND row sends the same values as plain APPEND commands on the connection redis() makes: no script and no producer record, so it is not exactly-once — the difference is what exactly-once costs.`,
    '',
    line(['store', 'producers', 'append MB/s', 'vs serve()', 'vs partd server', 'get MB/s']),
    line([':--', '--:', '--:', '--:', '--:', '--:']),
  ];
  for (const row of r.rows) {
    if (!row.verified) {
      out.push(line([row.label, String(row.producers), `FAILED: ${row.error}`, '', '', '']));
      continue;
    }
    out.push(
      line([
        row.label,
        String(row.producers),
        mbps(row.bytes, row.appendSeconds).toFixed(0),
        ratio(row, peer('serve', row.producers)),
        ratio(row, peer('partd', row.producers)),
        row.getSeconds === undefined ? '—' : mbps(row.bytes, row.getSeconds).toFixed(0),
      ]),
    );
  }
  const cost = [1, 4, 8].map((p) => {
    const [script, plain] = [peer('redis', p), peer('plain-append', p)];
    return script && plain ? `${p} producer${p > 1 ? 's' : ''}: ${(script.appendSeconds / plain.appendSeconds).toFixed(2)}× the time of plain APPEND` : undefined;
  });
  out.push('', `Exactly-once (the append script) against plain APPEND on one server: ${cost.filter(Boolean).join('; ') || 'not measured'}.`);
  if (!r.rows.some((row) => row.kind === 'partd')) out.push('', 'Python partd was not measured (--no-python).');
  out.push('', `### The shuffle demo over redis()`, '', `The shuffle demo (benchmarks/shuffle.ts): ${r.shuffle[0]?.values.toLocaleString('en-US')} order records into 256 partitions, 20,000 records a call, then every partition read back and checked, through the demo's stack over file() and over redis().`, '');
  out.push(line(['stack', 'append k records/s', 'get k records/s', 'vs file() append', 'vs file() get']), line([':--', '--:', '--:', '--:', '--:']));
  const base = r.shuffle[0]?.verified ? r.shuffle[0] : undefined;
  for (const m of r.shuffle) {
    if (!m.verified) {
      out.push(line([m.store, `FAILED: ${m.error}`, '', '', '']));
      continue;
    }
    out.push(line([m.store, (m.values / m.appendSeconds / 1e3).toFixed(0), (m.values / m.getSeconds / 1e3).toFixed(0), base && base !== m ? `${(base.appendSeconds / m.appendSeconds).toFixed(2)}×` : '—', base && base !== m ? `${(base.getSeconds / m.getSeconds).toFixed(2)}×` : '—']));
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runAlone('redis', async (root, opts) => redisMarkdown(await redisBench(root, opts)));
}
