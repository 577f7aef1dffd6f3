// log(): a store of N keys (1,000,000 by default) × one 100-byte value,
// appended 10,000 keys a call, closed (which checkpoints the index), then
// reopened: the reopen time and the index's memory (heap growth per key,
// after a forced GC). Run: npx tsx --conditions=source --expose-gc benchmarks/log-reopen.ts [N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '@laminate/core';

const keys = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'laminate-log-reopen-'));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const heap = () => (gc(), process.memoryUsage().heapUsed);
try {
  const value = Buffer.alloc(100, 1);
  const writer = log(dir);
  let started = performance.now();
  for (let i = 0; i < keys; i += 10_000) {
    const batch: Record<string, Uint8Array> = {};
    for (let k = i; k < Math.min(keys, i + 10_000); k++) batch[`key-${k}`] = value;
    await writer.append(batch);
  }
  const appendSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  await writer.close();
  const closeSeconds = (performance.now() - started) / 1000;
  const base = heap();
  started = performance.now();
  const reader = log(dir);
  const reopenSeconds = (performance.now() - started) / 1000;
  const indexBytes = heap() - base;
  const sample = await reader.get(`key-${keys - 1}`);
  if (sample.byteLength !== 100) throw new Error('the last key did not read back');
  await reader.close();
  console.log(JSON.stringify({ keys, appendSeconds, closeWithCheckpointSeconds: closeSeconds, reopenSeconds, indexBytesPerKey: Math.round(indexBytes / keys) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
