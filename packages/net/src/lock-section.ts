/**
 * The `lock` and `unlock` requests: a connection holds the served store's
 * withLock section, and its requests sent with `locked: true` run inside it
 * while everyone else's wait.
 */
import { type BaseStore, LaminateError } from '@laminate/core';

/** A withLock section held on the store, running the jobs given to it until it ends. */
class LockSection {
  private readonly jobs: (() => Promise<unknown>)[] = [];
  private wake?: () => void;
  private ended = false;
  readonly acquired: Promise<void>;
  readonly done: Promise<void>;

  constructor(store: BaseStore<Uint8Array>) {
    let acquired!: () => void;
    let failed!: (error: unknown) => void;
    this.acquired = new Promise<void>((resolve, reject) => ((acquired = resolve), (failed = reject)));
    this.done = store
      .withLock(async () => {
        acquired();
        const running = new Set<Promise<unknown>>();
        for (;;) {
          // Jobs started here run in the section's async context, so the store's mutex lets them in.
          while (this.jobs.length > 0) {
            const job = this.jobs.shift()!();
            running.add(job);
            void job.finally(() => running.delete(job)).catch(() => undefined);
          }
          if (this.ended) break;
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
        }
        await Promise.allSettled([...running]);
      })
      .catch((error: unknown) => failed(error));
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push(() => {
        const promise = fn();
        promise.then(resolve, reject);
        return promise;
      });
      this.wake?.();
    });
  }

  end(): Promise<void> {
    this.ended = true;
    this.wake?.();
    return this.done;
  }
}

/** The section one connection holds, if any. */
export class ConnectionLock {
  private section?: LockSection;

  constructor(private readonly store: BaseStore<Uint8Array>) {}

  /** Whether this connection holds (or is taking) the store's lock. */
  get held(): boolean {
    return this.section !== undefined;
  }

  /** `lock`: takes the store's lock for this connection; resolves once it is held. */
  async take(): Promise<void> {
    if (this.section) throw new LaminateError('ERR_LOCKED', 'This connection already holds the lock.');
    const section = new LockSection(this.store);
    this.section = section;
    try {
      await section.acquired;
    } catch (error) {
      this.section = undefined;
      throw error;
    }
  }

  /** Runs a request: inside the section held now when it was sent with `locked: true`, else at once. */
  run<T>(work: () => Promise<T>, locked: boolean): Promise<T> {
    const section = locked ? this.section : undefined;
    return section ? section.run(work) : work();
  }

  /** `unlock`, or the connection finishing: ends the section once the requests in it are done. */
  async release(): Promise<void> {
    const section = this.section;
    this.section = undefined;
    await section?.end();
  }

  /**
   * The socket closed: ends the section without waiting. The section stays
   * recorded, so a finish() already under way still waits for it to end.
   */
  abandon(): void {
    void this.section?.end();
  }
}
