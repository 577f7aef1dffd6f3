/**
 * The benchmark's peers and its shuffle, on the real engines: what a peer
 * reads back is what was appended, in order, and the shuffle's check passes
 * through every store; and the read check itself fails a row whose store
 * returns anything else — so a benchmark row marked verified means something.
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { tempDirs } from '@laminate/core/testing';
import { appendThenGet } from '../measure.js';
import { NODE_PEERS } from '../peers.js';
import { SHUFFLE_STORES, shuffleOnce } from '../shuffle.js';
import { type Workload, batchOf, expected, keyName, keyNames, makeCorpus, wrongBytes } from '../workloads.js';

const tempDir = tempDirs('laminate-peers-');
let dir: string;
beforeEach(() => {
  dir = tempDir();
});

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe.each(Object.keys(NODE_PEERS))('peer %s', (name) => {
  it('reads a key back whole, in append order, and an untouched key as empty', async () => {
    const store = await NODE_PEERS[name].make(join(dir, 'store'));
    try {
      // More than 16 appends, so a sequence number that sorted as text ("10" < "9") would show.
      for (let i = 0; i < 40; i++) await store.append({ x: bytes(`${i},`), y: bytes(String.fromCharCode(65 + (i % 26))) });
      await store.append({ 'x-longer': bytes('other key sharing a prefix') });
      expect(text(await store.get('x'))).toBe(Array.from({ length: 40 }, (_, i) => `${i},`).join(''));
      expect(text(await store.get('y'))).toBe(Array.from({ length: 40 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''));
      expect(text(await store.get('x-longer'))).toBe('other key sharing a prefix');
      expect((await store.get('never')).byteLength).toBe(0);
    } finally {
      await store.close();
    }
  });
});

describe('the shuffle benchmark', () => {
  it.each(SHUFFLE_STORES)('shuffles through %s and verifies every partition', async (store) => {
    const m = await shuffleOnce(store, join(dir, store), { records: 30_000, memoryMiB: 1 });
    expect(m.error).toBeUndefined();
    expect(m.verified).toBe(true);
    expect(m.values).toBe(30_000);
    // The encoded records: about 80 bytes each, whatever stores them.
    expect(m.bytes).toBeGreaterThan(30_000 * 40);
    expect(m.diskBytes).toBeGreaterThan(0);
  });
});

describe('the read check behind every row', () => {
  const w: Workload = { id: 't', title: 'test', keys: 10, valueBytes: 100, keysPerCall: 5, calls: 8 };
  const corpus = makeCorpus(1 << 16);

  /** A store that keeps appends in memory and hands `get` through `spoil`. */
  function memoryStore(spoil: (bytes: Buffer, key: string) => Uint8Array) {
    const data = new Map<string, Buffer[]>();
    return {
      async append(batch: Record<string, Uint8Array>) {
        for (const [key, value] of Object.entries(batch)) data.set(key, [...(data.get(key) ?? []), Buffer.from(value)]);
      },
      get: async (key: string) => spoil(Buffer.concat(data.get(key) ?? []), key),
      close: async () => {},
    };
  }

  const measure = (spoil: (bytes: Buffer, key: string) => Uint8Array) =>
    appendThenGet({ store: 'test', workload: w.id, values: 0, bytes: 0, appendSeconds: 0, getSeconds: 0, verified: false }, memoryStore(spoil), join(dir, 'unused'), {
      calls: w.calls,
      batch: (c) => batchOf(w, corpus, c),
      keys: keyNames(w),
      wrong: wrongBytes(expected(w, corpus)),
    });

  it('marks a row verified only when every key reads back as appended', async () => {
    const right = await measure((bytes) => bytes);
    expect(right.error).toBeUndefined();
    expect(right.verified).toBe(true);
    expect(right.peakRss).toBeGreaterThan(0);
  });

  it('fails a row whose store drops a byte, or returns a key with one byte changed', async () => {
    const short = await measure((bytes, key) => (key === keyName(3) ? bytes.subarray(1) : bytes));
    expect(short.verified).toBe(false);
    expect(short.error).toBe(`1 keys read back wrong: ${keyName(3)} (399 bytes, expected 400)`);
    const flipped = await measure((bytes, key) => {
      if (key === keyName(7)) bytes[123] ^= 1;
      return bytes;
    });
    expect(flipped.verified).toBe(false);
    expect(flipped.error).toContain(keyName(7));
  });
});
