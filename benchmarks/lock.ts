// The side note on lock cost: what one acquire + release of the directory
// lock costs, raw (proper-lockfile, as file()'s `lock: 'mkdir'` calls it) and
// as a file() store pays it around a call (withLock on an empty section), with
// its default lock file and with `lock: 'mkdir'`: for calls made one after
// another, which share the lock, and for calls with a turn of the event loop
// between them, which each take it.
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { file } from '@laminate/core';
import { now } from './measure.js';

// proper-lockfile is a dependency of @laminate/core, not of the benchmarks: load core's copy.
const lockfile = createRequire(import.meta.resolve('@laminate/core'))('proper-lockfile') as typeof import('proper-lockfile');

export interface LockCost {
  /** µs per `await lock()` + `await release()`. */
  properLockfile: number;
  /** µs per `lockSync()` + `release()`. */
  properLockfileSync: number;
  /** µs per `await file(dir).withLock(async () => {})`, called back to back. */
  fileWithLock: number;
  /** The same with `await setImmediate()` between calls (its own time subtracted). */
  fileWithLockIsolated: number;
  /** fileWithLockIsolated with `lock: 'mkdir'` (proper-lockfile's folder); absent in runs made before that option. */
  fileWithLockMkdirIsolated?: number;
}

async function timeIt(n: number, fn: () => Promise<void> | void): Promise<number> {
  for (let i = 0; i < 50; i++) await fn();
  const t0 = now();
  for (let i = 0; i < n; i++) await fn();
  return ((now() - t0) / n) * 1e6;
}

export async function lockCost(root: string, n = 1000): Promise<LockCost> {
  const dir = join(root, 'lock');
  mkdirSync(dir, { recursive: true });
  const options = { lockfilePath: join(dir, '.lock'), realpath: false };
  try {
    const properLockfile = await timeIt(n, async () => {
      const release = await lockfile.lock(dir, options);
      await release();
    });
    const properLockfileSync = await timeIt(n, () => {
      lockfile.lockSync(dir, options)();
    });
    const store = file(join(dir, 'store'));
    const fileWithLock = await timeIt(n, () => store.withLock(async () => undefined));
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const turnCost = await timeIt(n, turn);
    const isolatedCall = async (s: typeof store) =>
      Math.max(
        0,
        (await timeIt(n, async () => {
          await turn();
          await s.withLock(async () => undefined);
        })) - turnCost,
      );
    const fileWithLockIsolated = await isolatedCall(store);
    await store.close();
    const mkdirStore = file(join(dir, 'store-mkdir'), { lock: 'mkdir' });
    const fileWithLockMkdirIsolated = await isolatedCall(mkdirStore);
    await mkdirStore.close();
    return { properLockfile, properLockfileSync, fileWithLock, fileWithLockIsolated, fileWithLockMkdirIsolated };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
