/**
 * The benchmark's peers and its shuffle, on the real engines: what a peer
 * reads back is what was appended, in order, and the shuffle's check passes
 * through every store — so a benchmark row marked verified means something.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NODE_PEERS } from '../peers.js';
import { SHUFFLE_STORES, shuffleOnce } from '../shuffle.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'laminate-peers-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

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
