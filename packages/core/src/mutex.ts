import { AsyncLocalStorage } from 'node:async_hooks';

/** Which mutexes the current async call chain holds, so a holder can re-enter. */
const held = new AsyncLocalStorage<ReadonlySet<Mutex>>();

/**
 * An external lock a Mutex takes while it is busy: file() uses the directory
 * lock that other processes also take.
 */
export interface OuterLock {
  acquire(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Serializes the operations of one store inside this process. Re-entrant along
 * an async call chain: code running under `withLock` may call the store again.
 *
 * With an outer lock, waiting operations are handed the mutex while the outer
 * lock stays held, so a burst of concurrent appends pays for one directory lock
 * (group commit). To stay fair to other processes, the outer lock is released
 * after `maxHandoffs` hand-offs or `maxHoldMs` milliseconds.
 */
export class Mutex {
  private busy = false;
  private readonly waiters: (() => void)[] = [];
  private outerHeld = false;
  private handoffs = 0;
  private heldSince = 0;

  constructor(
    private readonly outer?: OuterLock,
    private readonly maxHandoffs = 256,
    private readonly maxHoldMs = 25,
  ) {}

  /** True when the current async call chain already holds this mutex. */
  holds(): boolean {
    return held.getStore()?.has(this) === true;
  }

  async run<T>(fn: () => T | Promise<T>): Promise<T> {
    const chain = held.getStore();
    if (chain?.has(this)) return fn();
    if (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.busy = true;
    try {
      if (this.outer && !this.outerHeld) {
        await this.outer.acquire();
        this.outerHeld = true;
        this.handoffs = 0;
        this.heldSince = Date.now();
      }
      const next = new Set(chain);
      next.add(this);
      return await held.run(next, fn);
    } finally {
      await this.leave();
    }
  }

  private async leave(): Promise<void> {
    if (this.waiters.length > 0 && (!this.outerHeld || this.keepOuter())) {
      this.handoffs++;
      this.waiters.shift()!();
      return;
    }
    if (this.outerHeld) {
      this.outerHeld = false;
      try {
        await this.outer!.release();
      } finally {
        const next = this.waiters.shift();
        if (next) next();
        else this.busy = false;
      }
      return;
    }
    this.busy = false;
  }

  private keepOuter(): boolean {
    return this.handoffs < this.maxHandoffs && Date.now() - this.heldSince < this.maxHoldMs;
  }
}
