// The workloads, the data they append, and what a correct read returns.
//
// Values are slices of one corpus of CSV event-log lines (compressible the
// way real records are: not random bytes, not zeros). Which slice goes to
// which key is a formula that partd_bench.py repeats exactly, so the Python
// peer appends the same bytes in the same order, and both sides check their
// reads against the same per-key length and CRC-32 computed here.
import { crc32 } from 'node:zlib';
import { seededRandom } from '@laminate/core/layer';

export interface Workload {
  /** a, b or c. */
  id: string;
  title: string;
  keys: number;
  valueBytes: number;
  keysPerCall: number;
  /** Append calls; each appends one value to each of keysPerCall keys. */
  calls: number;
}

export interface Expected {
  lengths: number[];
  crcs: number[];
}

/** Multiplier that scatters value offsets over the corpus (prime, so offsets don't repeat in step). */
export const STRIDE = 1_000_003;
export const CORPUS_BYTES = 32 << 20;

export function workloads(quick: boolean): Workload[] {
  const scale = quick ? 0.25 : 1;
  return [
    { id: 'a', title: '1,000 keys × 100 B, 100 keys per append', keys: 1000, valueBytes: 100, keysPerCall: 100, calls: Math.round(2000 * scale) },
    { id: 'b', title: '1,000 keys × 10 KB, 100 keys per append', keys: 1000, valueBytes: 10_000, keysPerCall: 100, calls: Math.round(200 * scale) },
    { id: 'c', title: '100 keys × 1 MB, 10 keys per append', keys: 100, valueBytes: 1_000_000, keysPerCall: 10, calls: Math.round(30 * scale) },
  ];
}

export function valueCount(w: Workload): number {
  return w.calls * w.keysPerCall;
}

export function totalBytes(w: Workload): number {
  return valueCount(w) * w.valueBytes;
}

export function keyName(k: number): string {
  return 'k' + String(k).padStart(4, '0');
}

/** Calls `fn(keyIndex, offset)` for each value of call `c`, in append order. */
export function forEachValue(w: Workload, corpusBytes: number, c: number, fn: (key: number, offset: number) => void): void {
  for (let i = 0; i < w.keysPerCall; i++) {
    const j = c * w.keysPerCall + i;
    fn(j % w.keys, (j * STRIDE) % (corpusBytes - w.valueBytes));
  }
}

/**
 * Call `c`'s batch: one value for each of its keys, each its own copy of a
 * slice of the corpus, made just before the call, as the Python peer's
 * `corpus[o:o + n]` makes a fresh bytes object (a view of the 32 MB corpus
 * instead would leave the values scattered and out of cache, which the peer's
 * are not).
 */
export function batchOf(w: Workload, corpus: Uint8Array, c: number): Record<string, Uint8Array> {
  const batch: Record<string, Uint8Array> = {};
  forEachValue(w, corpus.byteLength, c, (k, offset) => {
    batch[keyName(k)] = Buffer.from(corpus.subarray(offset, offset + w.valueBytes));
  });
  return batch;
}

export function keyNames(w: Workload): string[] {
  return Array.from({ length: w.keys }, (_, k) => keyName(k));
}

/** What is wrong with key k's bytes as read back (undefined when its length and CRC-32 match). */
export function wrongBytes(want: Expected): (got: Uint8Array, k: number) => string | undefined {
  return (got, k) => (got.byteLength !== want.lengths[k] || crc32(got) !== want.crcs[k] ? `${got.byteLength} bytes, expected ${want.lengths[k]}` : undefined);
}

/** Length and CRC-32 of everything each key holds once the workload has been appended. */
export function expected(w: Workload, corpus: Uint8Array): Expected {
  const lengths = new Array<number>(w.keys).fill(0);
  const crcs = new Array<number>(w.keys).fill(0);
  for (let c = 0; c < w.calls; c++) {
    forEachValue(w, corpus.byteLength, c, (k, offset) => {
      crcs[k] = crc32(corpus.subarray(offset, offset + w.valueBytes), crcs[k]);
      lengths[k] += w.valueBytes;
    });
  }
  return { lengths, crcs };
}


const EVENTS = ['view', 'view', 'view', 'click', 'click', 'add_to_cart', 'checkout', 'login', 'logout', 'search'];
const PATHS = ['/api/v2/items/', '/api/v2/orders/', '/api/v2/users/', '/static/img/', '/search?q=', '/api/v2/cart/'];
const STATUS = [200, 200, 200, 200, 200, 200, 304, 301, 404, 500];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4)', 'curl/8.5.0', 'python-requests/2.31'];
const REGIONS = ['eu-west-1', 'us-east-1', 'us-west-2', 'ap-south-1'];

/** `bytes` of CSV event-log lines: timestamps, ids, skewed categories, numbers. */
export function makeCorpus(bytes = CORPUS_BYTES, seed = 42): Buffer {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  let time = Date.UTC(2025, 2, 14, 9, 0, 0);
  let event = 1_000_000;
  while (at < bytes) {
    const lines: string[] = [];
    for (let n = 0; n < 1000; n++) {
      time += Math.floor(rand() * 40);
      event += 1;
      const user = Math.floor(rand() ** 2 * 50_000);
      const latency = (rand() * rand() * 900 + 2).toFixed(2);
      lines.push(
        `${new Date(time).toISOString()},ev_${event},user_${user},${pick(EVENTS)},${pick(PATHS)}${Math.floor(rand() * 100_000)},` +
          `${pick(STATUS)},${Math.floor(rand() * 20_000)},${latency},${pick(REGIONS)},"${pick(AGENTS)}"\n`,
      );
    }
    at += out.write(lines.join(''), at, 'latin1');
  }
  return out;
}
