// The disk side: dd as the sequential-write limit, settling dirty pages
// between measurements, and what a store's directory holds.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface DdResult {
  label: string;
  bytes: number;
  seconds: number;
  error?: string;
}

/**
 * `dd if=/dev/zero of=dir/dd.bin bs=1M count=mib`, with `conv=fdatasync`
 * (the data reached the disk before dd stops the clock) or without (the data
 * reached the page cache, as the stores' data does: none of them fsyncs).
 */
export function dd(dir: string, mib: number, fdatasync: boolean): DdResult {
  const target = join(dir, 'dd.bin');
  rmSync(target, { force: true });
  settle();
  const result = runDd(['if=/dev/zero', `of=${target}`, 'bs=1M', `count=${mib}`, ...(fdatasync ? ['conv=fdatasync'] : [])], target);
  rmSync(target, { force: true });
  return result;
}

/**
 * `dd if=dir/dd.bin of=/dev/null bs=1M` of a file just written, so it reads
 * from the page cache, as every get here does: the limit for reading whole keys.
 */
export function ddCachedRead(dir: string, mib: number): DdResult {
  const target = join(dir, 'dd.bin');
  const write = runDd(['if=/dev/zero', `of=${target}`, 'bs=1M', `count=${mib}`], target);
  const result = write.error ? write : runDd([`if=${target}`, 'of=/dev/null', 'bs=1M'], target);
  rmSync(target, { force: true });
  return result;
}

/**
 * dd in blocks of one workload's value size, over that workload's volume:
 * the write into the page cache and the read back from it. A limit bar drawn
 * beside 10 KB values is then a dd of 10 KB blocks, not of 1 MiB ones, which
 * makes a hundred times fewer system calls for the same bytes.
 */
export function ddBlocks(dir: string, blockBytes: number, totalBytes: number): { write: DdResult; read: DdResult } {
  const target = join(dir, 'dd.bin');
  const count = Math.max(1, Math.ceil(totalBytes / blockBytes));
  rmSync(target, { force: true });
  settle();
  const write = runDd(['if=/dev/zero', `of=${target}`, `bs=${blockBytes}`, `count=${count}`], target);
  const read = write.error ? write : runDd([`if=${target}`, 'of=/dev/null', `bs=${blockBytes}`], target);
  rmSync(target, { force: true });
  return { write, read };
}

function runDd(args: string[], target: string): DdResult {
  const label = `dd ${args.join(' ').replace(target, '…')}`;
  const run = spawnSync('dd', args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  // "314572800 bytes (315 MB, 300 MiB) copied, 0.312 s, 1.0 GB/s"
  const match = /(\d+) bytes .* copied, ([\d.e+-]+) s/.exec(run.stderr ?? '');
  if (run.status !== 0 || !match) return { label, bytes: 0, seconds: 0, error: `dd failed: ${(run.stderr || run.error?.message || '').trim()}` };
  return { label, bytes: Number(match[1]), seconds: Number(match[2]) };
}

/** Writes back dirty pages, so one measurement does not pay for the last one's writes. */
export function settle(): void {
  spawnSync('sync');
}

/** Bytes in the files under `dir`. */
export function diskUsage(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += diskUsage(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}
