import { randomUUID } from 'node:crypto';
import { LaminateError } from '@laminate/core/layer';
import type { Connection } from './scripts.js';
import { laminateError, retried, sleep } from './retry.js';

/**
 * withLock's lock across processes and hosts: `SET name token NX PX ttl`,
 * renewed every third of the ttl while the section runs, released only by
 * its holder (a script compares the token). A holder that dies stops renewing
 * and the lock expires after lockTtlMs, so a crashed process never blocks the
 * others for longer than that.
 */
export class RedisLock {
  constructor(
    private readonly connection: () => Connection,
    private readonly name: string,
    private readonly counter: string,
    private readonly ttlMs: number,
    private readonly patienceMs: number,
  ) {}

  /** The fencing token of the section this process holds the lock for (undefined outside one). */
  fence?: number;

  /** Waits for the lock; resolves to its release, which reports a lock lost while held. */
  async acquire(): Promise<() => Promise<void>> {
    const token = randomUUID();
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const fence = await retried(() => this.connection().laminateAcquire(this.name, this.counter, token, this.ttlMs), this.patienceMs);
      if (fence > 0) {
        this.fence = fence;
        break;
      }
      await sleep(pause);
    }
    let lost: unknown;
    const renew = () =>
      this.connection()
        .laminateRenew(this.name, token, this.ttlMs)
        .then((kept) => {
          if (kept !== 1) lost ??= 'it expired';
        })
        .catch((error) => void (lost ??= laminateError(error).message));
    const timer = setInterval(renew, Math.max(1, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return async () => {
      clearInterval(timer);
      this.fence = undefined;
      await retried(() => this.connection().laminateRelease(this.name, token), this.patienceMs);
      if (lost !== undefined) {
        throw new LaminateError('ERR_LOCKED', `The redis() lock was lost while the withLock section ran (${String(lost)}), so another process may have run a section at the same time; raise lockTtlMs or keep Redis reachable.`);
      }
    };
  }
}
