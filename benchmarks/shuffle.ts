// The shuffle demo end to end: the demo's order records (examples/orders.ts),
// hash-partitioned into 256 keys, 20,000 records an append call, then every
// partition read back and checked by count and checksum.
//
// laminate runs the demo's own stack, msgpack(lz4(buffer(dict(), file()))).
// The Node.js peers (peers.ts) get what a user would write around them: each
// call's records of a partition packed with msgpackr and compressed with
// lz4-napi (the libraries laminate's layers use), behind a 4-byte length so
// that the frames of a key can be told apart when it is read back whole.
// Time inside append and get counts, encoding and decoding included; making
// the records and checking them does not.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as lz4 from 'lz4-napi';
import { Packr } from 'msgpackr';
import { buffer, dict, file, log, lz4 as lz4Layer, msgpack } from 'laminate';
import { BATCH, type Expected, KEYS, type Order, PARTITIONS, partitionBatch, rng, summarize } from '../examples/orders.js';
import { diskUsage, settle } from './disk.js';
import { type Measurement, appendThenGet, best } from './measure.js';
import { NODE_PEERS } from './peers.js';

const MiB = 2 ** 20;

export interface ShuffleShape {
  records: number;
  /** buffer()'s memory budget, MiB: about 3/4 of the encoded records, so the demo spills. */
  memoryMiB: number;
}

export function shuffleShape(quick: boolean): ShuffleShape {
  return quick ? { records: 200_000, memoryMiB: 12 } : { records: 1_000_000, memoryMiB: 64 };
}

/** The stores the shuffle runs through: laminate's demo stack, the same over log(), then the Node.js peers. */
export const SHUFFLE_STORES = ['laminate', 'laminate-log', ...Object.keys(NODE_PEERS)];

export function shuffleLabel(store: string, shape: ShuffleShape): string {
  if (store === 'laminate') return `msgpack(lz4(buffer(dict(), file(), ${shape.memoryMiB} MiB)))`;
  if (store === 'laminate-log') return `msgpack(lz4(buffer(dict(), log(), ${shape.memoryMiB} MiB)))`;
  return `${NODE_PEERS[store].label} + msgpackr + lz4-napi`;
}

interface RecordStore {
  append(batch: Record<string, Order[]>): Promise<unknown>;
  get(key: string): Promise<Order[]>;
  close(): Promise<unknown>;
  /** Encoded bytes stored so far. */
  stored(): number;
}

async function open(store: string, dir: string, shape: ShuffleShape): Promise<RecordStore> {
  if (store === 'laminate' || store === 'laminate-log') {
    const buffered = buffer(dict(), store === 'laminate' ? file(dir) : log(dir), { availableMemory: shape.memoryMiB * MiB });
    const stack = msgpack<Order>(lz4Layer(buffered));
    return { append: (b) => stack.append(b), get: (k) => stack.get(k), close: () => stack.close(), stored: () => buffered.spilledBytes + buffered.memoryUsage };
  }
  const peer = await NODE_PEERS[store].make(dir);
  const packr = new Packr({ useRecords: false });
  let stored = 0;
  return {
    append(batch) {
      const encoded: Record<string, Uint8Array> = {};
      for (const [key, orders] of Object.entries(batch)) {
        const body = lz4.compressSync(packr.pack(orders));
        const frame = Buffer.allocUnsafe(4 + body.byteLength);
        frame.writeUInt32LE(body.byteLength, 0);
        body.copy(frame, 4);
        encoded[key] = frame;
        stored += frame.byteLength;
      }
      return peer.append(encoded);
    },
    async get(key) {
      const bytes = await peer.get(key);
      const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const orders: Order[] = [];
      for (let at = 0; at < whole.byteLength; ) {
        const length = whole.readUInt32LE(at);
        const part = packr.unpack(lz4.uncompressSync(whole.subarray(at + 4, at + 4 + length))) as Order[];
        for (const order of part) orders.push(order);
        at += 4 + length;
      }
      return orders;
    },
    close: () => peer.close(),
    stored: () => stored,
  };
}

/** One shuffle through `store` in `dir`; the row is verified only if every partition reads back whole. */
export async function shuffleOnce(store: string, dir: string, shape: ShuffleShape): Promise<Measurement> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const m: Measurement = { store: shuffleLabel(store, shape), workload: 'shuffle', values: shape.records, bytes: 0, appendSeconds: 0, getSeconds: 0, verified: false };
  const records = await open(store, dir, shape);
  const expected: Expected[] = Array.from({ length: PARTITIONS }, () => ({ count: 0, checksum: 0 }));
  const random = rng(42);
  return appendThenGet(m, records, dir, {
    calls: Math.ceil(shape.records / BATCH),
    batch: (c) => Object.fromEntries(partitionBatch(c * BATCH, Math.min(BATCH, shape.records - c * BATCH), random, expected)),
    afterAppends: () => {
      m.bytes = records.stored();
      m.diskBytes = diskUsage(dir);
    },
    keys: KEYS,
    wrong: (orders, p) => {
      const got = summarize(orders);
      return got.count !== expected[p].count || got.checksum !== expected[p].checksum ? `${got.count} records, expected ${expected[p].count}` : undefined;
    },
  });
}

/** The shuffle `repeat` times through `store`, in this process (worker.ts calls it). */
export async function shuffleRow(store: string, root: string, shape: ShuffleShape, repeat: number): Promise<Measurement> {
  let kept: Measurement | undefined;
  for (let r = 0; r < repeat; r++) {
    settle();
    kept = best(kept, await shuffleOnce(store, join(root, `shuffle-${store}`), shape));
  }
  return kept!;
}
